/*
 * policy/parse.c: recursive descent from text to the canonical AST.
 *
 * Recursion is bounded: every level of parentheses (a group or a threshold)
 * counts against FKEX_POLICY_MAX_DEPTH before the parser descends, so the
 * stack holds at most three frames per level whatever the input. Leaves are
 * counted as they are read, with comparisons at their expanded size, so the
 * leaf limit fails at the token that crosses it.
 */
#include <stdlib.h>
#include "policy/policy.h"
#include "policy/ast.h"

typedef struct {
    fkex_lexer lx;
    fkex_token tok;          /* one token of lookahead */
    size_t depth, leaves;
} parser;

typedef struct {
    fkex_policy **v;
    size_t n, cap;
} node_list;

static void advance(parser *ps) { ps->tok = fkex_lex_next(&ps->lx); }

static void fail_memory(parser *ps)
{
    fkex_lex_fail(&ps->lx, FKEX_ERR_NO_MEMORY, ps->tok.pos, "out of memory");
}

void fkex_policy_free(fkex_policy *p)
{
    if (!p)
        return;
    for (size_t i = 0; i < p->n; i++)
        fkex_policy_free(p->child[i]);
    free(p->child);
    free(p->name);
    free(p);
}

static void list_free(node_list *l)
{
    for (size_t i = 0; i < l->n; i++)
        fkex_policy_free(l->v[i]);
    free(l->v);
    l->v = NULL;
    l->n = l->cap = 0;
}

static int list_push(node_list *l, fkex_policy *x)
{
    if (l->n == l->cap) {
        size_t cap = l->cap ? 2 * l->cap : 4;
        fkex_policy **v = realloc(l->v, cap * sizeof *v);
        if (!v)
            return -1;
        l->v = v;
        l->cap = cap;
    }
    l->v[l->n++] = x;
    return 0;
}

/* Adds x to a chain of `kind`, splicing x's children in when x is itself
 * such a chain: this is where a and (b and c) becomes a and b and c.
 * Takes ownership of x, even on failure. */
static int list_add_flat(node_list *l, fkex_policy *x, fkex_node_kind kind)
{
    if (x->kind != kind) {
        if (list_push(l, x) == 0)
            return 0;
        fkex_policy_free(x);
        return -1;
    }
    size_t took = 0;
    while (took < x->n && list_push(l, x->child[took]) == 0)
        took++;
    int failed = took < x->n;
    for (size_t i = took; i < x->n; i++)
        fkex_policy_free(x->child[i]);
    free(x->child);
    free(x);
    return failed ? -1 : 0;
}

static fkex_policy *new_node(parser *ps, fkex_node_kind kind)
{
    fkex_policy *p = calloc(1, sizeof *p);
    if (!p)
        fail_memory(ps);
    else
        p->kind = kind;
    return p;
}

/* Turns a list of at least one node into a gate; one node is itself. */
static fkex_policy *make_gate(parser *ps, fkex_node_kind kind, node_list *l, uint64_t k)
{
    if (l->n == 1) {
        fkex_policy *only = l->v[0];
        free(l->v);
        return only;
    }
    fkex_policy *p = new_node(ps, kind);
    if (!p) {
        list_free(l);
        return NULL;
    }
    p->value = k;
    p->n = l->n;
    p->child = l->v;
    return p;
}

/* Rebuilds a threshold's children as a flat AND or OR chain. */
static fkex_policy *make_chain(parser *ps, fkex_node_kind kind, node_list *in)
{
    node_list out = { 0 };
    for (size_t i = 0; i < in->n; i++) {
        fkex_policy *x = in->v[i];
        in->v[i] = NULL;
        if (list_add_flat(&out, x, kind) != 0) {
            fail_memory(ps);
            list_free(in);
            list_free(&out);
            return NULL;
        }
    }
    free(in->v);
    return make_gate(ps, kind, &out, 0);
}

static int count_leaves(parser *ps, size_t n, size_t pos)
{
    ps->leaves += n;
    if (ps->leaves <= FKEX_POLICY_MAX_LEAVES)
        return 0;
    fkex_lex_fail(&ps->lx, FKEX_ERR_POLICY_LIMIT, pos,
                  "more than %d attributes once comparisons are expanded to bits",
                  FKEX_POLICY_MAX_LEAVES);
    return -1;
}

static int enter(parser *ps)
{
    if (++ps->depth <= FKEX_POLICY_MAX_DEPTH)
        return 0;
    fkex_lex_fail(&ps->lx, FKEX_ERR_POLICY_LIMIT, ps->tok.pos,
                  "parentheses nested deeper than %d", FKEX_POLICY_MAX_DEPTH);
    return -1;
}

static fkex_policy *parse_or(parser *ps);

static void unexpected(parser *ps)
{
    const fkex_token *t = &ps->tok;
    if (t->type == FKEX_TOK_ERROR)
        return;
    if (t->type == FKEX_TOK_END)
        fkex_lex_fail(&ps->lx, FKEX_ERR_POLICY_SYNTAX, t->pos, "unexpected end of policy");
    else
        fkex_lex_fail(&ps->lx, FKEX_ERR_POLICY_SYNTAX, t->pos, "unexpected '%.*s'",
                      (int)(t->len > 40 ? 40 : t->len), ps->lx.text + t->pos);
}

static void expected(parser *ps, const char *what)
{
    if (ps->tok.type != FKEX_TOK_ERROR)
        fkex_lex_fail(&ps->lx, FKEX_ERR_POLICY_SYNTAX, ps->tok.pos, "expected %s", what);
}

/* NAME CMP NUMBER, the NAME already read as `name`. */
static fkex_policy *parse_comparison(parser *ps, fkex_token name)
{
    const char *s = ps->lx.text + name.pos;
    fkex_cmp_op op = ps->tok.op;
    char optext[3] = { 0 };
    memcpy(optext, ps->lx.text + ps->tok.pos, ps->tok.len);

    for (size_t i = 0; i < name.len; i++) {
        if (!fkex_name_char((unsigned char)s[i])) {
            fkex_lex_fail(&ps->lx, FKEX_ERR_POLICY_SYNTAX, name.pos,
                          "a numeric attribute name has only letters, digits and '_'");
            return NULL;
        }
    }
    if (name.len > FKEX_NUMERIC_NAME_MAX) {
        fkex_lex_fail(&ps->lx, FKEX_ERR_POLICY_SYNTAX, name.pos,
                      "numeric attribute name longer than %d characters", FKEX_NUMERIC_NAME_MAX);
        return NULL;
    }
    advance(ps);
    if (ps->tok.type != FKEX_TOK_NUMBER) {
        if (ps->tok.type != FKEX_TOK_ERROR)
            fkex_lex_fail(&ps->lx, FKEX_ERR_POLICY_SYNTAX, ps->tok.pos,
                          "expected a number after '%s'", optext);
        return NULL;
    }
    uint64_t c = ps->tok.number;
    size_t leaves = fkex_cmp_leaves(op, c);
    if (leaves == 0) {
        fkex_lex_fail(&ps->lx, FKEX_ERR_POLICY_SYNTAX, ps->tok.pos,
                      "comparison %.*s %s %.*s can never be true",
                      (int)(name.len > 40 ? 40 : name.len), s, optext,
                      (int)ps->tok.len, ps->lx.text + ps->tok.pos);
        return NULL;
    }
    if (count_leaves(ps, leaves, name.pos) != 0)
        return NULL;
    advance(ps);
    fkex_policy *p = new_node(ps, FKEX_NODE_CMP);
    if (!p)
        return NULL;
    p->op = op;
    p->value = c;
    p->name = malloc(name.len + 1);
    if (!p->name) {
        fail_memory(ps);
        fkex_policy_free(p);
        return NULL;
    }
    memcpy(p->name, s, name.len);
    p->name[name.len] = 0;
    return p;
}

static fkex_policy *parse_attribute(parser *ps)
{
    fkex_token name = ps->tok;
    advance(ps);
    if (ps->tok.type == FKEX_TOK_CMP)
        return parse_comparison(ps, name);
    if (count_leaves(ps, 1, name.pos) != 0)
        return NULL;
    fkex_policy *p = new_node(ps, FKEX_NODE_ATTR);
    if (!p)
        return NULL;
    p->name = malloc(name.len + 1);
    if (!p->name) {
        fail_memory(ps);
        fkex_policy_free(p);
        return NULL;
    }
    memcpy(p->name, ps->lx.text + name.pos, name.len);
    p->name[name.len] = 0;
    return p;
}

/* NUMBER "of" "(" or_expr { "," or_expr } ")" */
static fkex_policy *parse_threshold(parser *ps)
{
    fkex_token kt = ps->tok;
    node_list l = { 0 };

    advance(ps);
    if (ps->tok.type != FKEX_TOK_OF) {
        expected(ps, "'of' after a number");
        return NULL;
    }
    advance(ps);
    if (ps->tok.type != FKEX_TOK_LPAREN) {
        expected(ps, "'(' after 'of'");
        return NULL;
    }
    if (enter(ps) != 0)
        return NULL;
    do {
        advance(ps);
        fkex_policy *x = parse_or(ps);
        if (!x)
            goto fail;
        if (list_push(&l, x) != 0) {
            fkex_policy_free(x);
            fail_memory(ps);
            goto fail;
        }
    } while (ps->tok.type == FKEX_TOK_COMMA);
    if (ps->tok.type != FKEX_TOK_RPAREN) {
        expected(ps, "',' or ')'");
        goto fail;
    }
    advance(ps);
    ps->depth--;

    uint64_t k = kt.number;
    if (k < 1 || k > l.n) {
        fkex_lex_fail(&ps->lx, FKEX_ERR_POLICY_SYNTAX, kt.pos,
                      "threshold %.*s of %zu is impossible", (int)kt.len,
                      ps->lx.text + kt.pos, l.n);
        goto fail;
    }
    /* 1-of-n is an OR and n-of-n an AND: one AST, one text, one matrix. */
    if (k == 1)
        return make_chain(ps, FKEX_NODE_OR, &l);
    if (k == l.n)
        return make_chain(ps, FKEX_NODE_AND, &l);
    return make_gate(ps, FKEX_NODE_THRESHOLD, &l, k);
fail:
    list_free(&l);
    return NULL;
}

static fkex_policy *parse_primary(parser *ps)
{
    switch (ps->tok.type) {
    case FKEX_TOK_LPAREN: {
        if (enter(ps) != 0)
            return NULL;
        advance(ps);
        fkex_policy *x = parse_or(ps);
        if (!x)
            return NULL;
        if (ps->tok.type != FKEX_TOK_RPAREN) {
            expected(ps, "')'");
            fkex_policy_free(x);
            return NULL;
        }
        advance(ps);
        ps->depth--;
        return x;
    }
    case FKEX_TOK_NUMBER:
        return parse_threshold(ps);
    case FKEX_TOK_WORD:
        return parse_attribute(ps);
    default:
        unexpected(ps);
        return NULL;
    }
}

/* and_expr := primary { "and" primary }, and likewise or_expr over and_expr. */
static fkex_policy *parse_chain(parser *ps, fkex_node_kind kind)
{
    fkex_tok_type sep = kind == FKEX_NODE_AND ? FKEX_TOK_AND : FKEX_TOK_OR;
    node_list l = { 0 };
    for (;;) {
        fkex_policy *x = kind == FKEX_NODE_AND ? parse_primary(ps)
                                               : parse_chain(ps, FKEX_NODE_AND);
        if (!x)
            goto fail;
        if (list_add_flat(&l, x, kind) != 0) {
            fail_memory(ps);
            goto fail;
        }
        if (ps->tok.type != sep)
            break;
        advance(ps);
    }
    return make_gate(ps, kind, &l, 0);
fail:
    list_free(&l);
    return NULL;
}

static fkex_policy *parse_or(parser *ps) { return parse_chain(ps, FKEX_NODE_OR); }

fkex_err fkex_policy_parse(fkex_policy **out, const char *text, size_t len,
                           fkex_policy_error *err)
{
    fkex_policy_error scratch;
    parser ps;
    fkex_policy *p = NULL;

    if (!err)
        err = &scratch;
    err->column = 0;
    err->message[0] = 0;
    if (!out || (!text && len))
        return FKEX_ERR_ARGUMENT;
    *out = NULL;

    memset(&ps, 0, sizeof ps);
    ps.lx.text = text ? text : "";
    ps.lx.len = len;
    ps.lx.err = err;
    if (len > FKEX_POLICY_MAX_TEXT) {
        fkex_lex_fail(&ps.lx, FKEX_ERR_POLICY_LIMIT, FKEX_POLICY_MAX_TEXT,
                      "policy longer than %d bytes", FKEX_POLICY_MAX_TEXT);
        return ps.lx.code;
    }
    advance(&ps);
    p = parse_or(&ps);
    if (p && ps.tok.type != FKEX_TOK_END) {
        if (ps.tok.type == FKEX_TOK_RPAREN)
            unexpected(&ps);
        else
            expected(&ps, "'and' or 'or'");
    }
    if (!p && ps.lx.code == FKEX_OK)   /* cannot happen: every failure says why */
        fkex_lex_fail(&ps.lx, FKEX_ERR_POLICY_SYNTAX, ps.tok.pos, "invalid policy");
    /* The canonical text is what gets stored and re-parsed: it must fit too. */
    if (ps.lx.code == FKEX_OK && fkex_policy_printed_len(p) > FKEX_POLICY_MAX_TEXT)
        fkex_lex_fail(&ps.lx, FKEX_ERR_POLICY_LIMIT, 0,
                      "policy longer than %d bytes once written canonically",
                      FKEX_POLICY_MAX_TEXT);
    if (ps.lx.code != FKEX_OK) {
        fkex_policy_free(p);
        return ps.lx.code;
    }
    *out = p;
    return FKEX_OK;
}
