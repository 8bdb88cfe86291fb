/*
 * policy/lex.c: splits policy text into tokens.
 *
 * Columns are 1-based byte offsets; every error points at the first byte of
 * the token (or character) that is wrong, so the CLI can draw a caret under
 * it. Number and name errors are found here, where the token's extent is
 * known, rather than in the parser.
 */
#include <stdio.h>
#include "policy/policy.h"
#include "policy/ast.h"

void fkex_lex_fail(fkex_lexer *lx, fkex_err code, size_t pos, const char *fmt, ...)
{
    va_list ap;
    if (lx->code != FKEX_OK)
        return;   /* the first error is the one the user needs to see */
    lx->code = code;
    lx->err->column = pos + 1;
    va_start(ap, fmt);
    vsnprintf(lx->err->message, sizeof lx->err->message, fmt, ap);
    va_end(ap);
}

static int is_space(int c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; }
static int is_digit(int c) { return c >= '0' && c <= '9'; }

static fkex_token error_token(size_t pos)
{
    fkex_token t = { FKEX_TOK_ERROR, pos, 0, 0, FKEX_CMP_EQ };
    return t;
}

static fkex_token lex_number(fkex_lexer *lx, fkex_token t)
{
    const char *why;
    size_t end = t.pos;
    while (end < lx->len && is_digit((unsigned char)lx->text[end]))
        end++;
    if (end < lx->len && fkex_attr_char((unsigned char)lx->text[end])) {
        fkex_lex_fail(lx, FKEX_ERR_POLICY_SYNTAX, t.pos,
                      "attribute names cannot start with a digit");
        return error_token(t.pos);
    }
    t.len = end - t.pos;
    if (fkex_u64_parse(&t.number, lx->text + t.pos, t.len, &why) != 0) {
        fkex_lex_fail(lx, FKEX_ERR_POLICY_SYNTAX, t.pos, "%s", why);
        return error_token(t.pos);
    }
    t.type = FKEX_TOK_NUMBER;
    return t;
}

static fkex_token lex_word(fkex_lexer *lx, fkex_token t)
{
    size_t end = t.pos + 1;
    while (end < lx->len && fkex_attr_char((unsigned char)lx->text[end]))
        end++;
    t.len = end - t.pos;
    if (t.len > FKEX_ATTR_MAX_LEN) {
        fkex_lex_fail(lx, FKEX_ERR_POLICY_SYNTAX, t.pos,
                      "attribute name longer than %d characters", FKEX_ATTR_MAX_LEN);
        return error_token(t.pos);
    }
    t.type = FKEX_TOK_WORD;
    if (fkex_is_keyword(lx->text + t.pos, t.len)) {
        char c = lx->text[t.pos];
        t.type = (c == 'a' || c == 'A') ? FKEX_TOK_AND
               : (t.len == 2 && (lx->text[t.pos + 1] == 'r' || lx->text[t.pos + 1] == 'R'))
                     ? FKEX_TOK_OR : FKEX_TOK_OF;
    }
    return t;
}

/* "<", "<=", ">", ">=", "==" */
static fkex_token lex_cmp(fkex_lexer *lx, fkex_token t)
{
    char c = lx->text[t.pos];
    int eq = t.pos + 1 < lx->len && lx->text[t.pos + 1] == '=';
    if (c == '=' && !eq) {
        fkex_lex_fail(lx, FKEX_ERR_POLICY_SYNTAX, t.pos, "'=' is not an operator; use '=='");
        return error_token(t.pos);
    }
    t.type = FKEX_TOK_CMP;
    t.len = eq ? 2 : 1;
    t.op = c == '=' ? FKEX_CMP_EQ
         : c == '<' ? (eq ? FKEX_CMP_LE : FKEX_CMP_LT)
                    : (eq ? FKEX_CMP_GE : FKEX_CMP_GT);
    return t;
}

static fkex_token lex_unknown(fkex_lexer *lx, size_t pos)
{
    unsigned char c = (unsigned char)lx->text[pos];
    if (c == '-' && pos + 1 < lx->len && is_digit((unsigned char)lx->text[pos + 1]))
        fkex_lex_fail(lx, FKEX_ERR_POLICY_SYNTAX, pos, "negative numbers are not allowed");
    else if (c > 0x20 && c < 0x7f)
        fkex_lex_fail(lx, FKEX_ERR_POLICY_SYNTAX, pos, "unknown character '%c'", c);
    else
        fkex_lex_fail(lx, FKEX_ERR_POLICY_SYNTAX, pos, "unknown byte 0x%02x", c);
    return error_token(pos);
}

fkex_token fkex_lex_next(fkex_lexer *lx)
{
    fkex_token t = { FKEX_TOK_END, 0, 0, 0, FKEX_CMP_EQ };
    if (lx->code != FKEX_OK)
        return error_token(lx->pos);
    while (lx->pos < lx->len && is_space((unsigned char)lx->text[lx->pos]))
        lx->pos++;
    t.pos = lx->pos;
    if (lx->pos == lx->len)
        return t;
    unsigned char c = (unsigned char)lx->text[lx->pos];
    if (c == '(' || c == ')' || c == ',') {
        t.type = c == '(' ? FKEX_TOK_LPAREN : c == ')' ? FKEX_TOK_RPAREN : FKEX_TOK_COMMA;
        t.len = 1;
    } else if (c == '<' || c == '>' || c == '=') {
        t = lex_cmp(lx, t);
    } else if (is_digit(c)) {
        t = lex_number(lx, t);
    } else if (fkex_name_start(c)) {
        t = lex_word(lx, t);
    } else {
        t = lex_unknown(lx, lx->pos);
    }
    lx->pos += t.len;
    return t;
}
