/*
 * policy/ast.h: private to src/policy/ (and its tests): the AST, the lexer,
 * the expanded tree behind fkex_lsss, and the lexical rules that the parser
 * and the key-attribute checks share.
 *
 * Canonical AST (what fkex_policy_parse builds and fkex_policy_equal
 * compares):
 *   - AND and OR have at least two children, none of the same kind
 *     (chains are flattened: a and (b and c) == a and b and c);
 *   - a threshold has 1 < k < n: "1 of (...)" becomes an OR, "n of (...)" an
 *     AND (then flattened into its parent), "1 of (x)" is just x;
 *   - redundant parentheses leave no trace;
 *   - comparisons stay comparison nodes, with the operator as written
 *     ("year >= 5" is not rewritten to "year > 4"); they become bits only
 *     in fkex_lsss_compile.
 */
#ifndef FKEX_POLICY_AST_H
#define FKEX_POLICY_AST_H

#include <stdarg.h>

typedef enum {
    FKEX_NODE_ATTR,
    FKEX_NODE_CMP,
    FKEX_NODE_AND,
    FKEX_NODE_OR,
    FKEX_NODE_THRESHOLD
} fkex_node_kind;

typedef enum { FKEX_CMP_LT, FKEX_CMP_LE, FKEX_CMP_GT, FKEX_CMP_GE, FKEX_CMP_EQ } fkex_cmp_op;

struct fkex_policy {
    fkex_node_kind kind;
    fkex_cmp_op op;            /* CMP */
    uint64_t value;            /* CMP: the constant; THRESHOLD: k */
    char *name;                /* ATTR, CMP: NUL-terminated */
    size_t n;                  /* AND, OR, THRESHOLD: number of children */
    struct fkex_policy **child;
};

/* ---- lexical rules (names.c) ------------------------------------------ */
/* Longest numeric NAME: its longest expanded name "NAME#b63=1" must still
 * fit in FKEX_ATTR_MAX_LEN. */
#define FKEX_NUMERIC_NAME_MAX (FKEX_ATTR_MAX_LEN - 6)
#define FKEX_U64_DIGITS 20

int fkex_name_start(int c);          /* [A-Za-z_] */
int fkex_name_char(int c);           /* [A-Za-z0-9_] */
int fkex_attr_char(int c);           /* [A-Za-z0-9_.:@/-] */
/* "and", "or", "of" in any case. */
int fkex_is_keyword(const char *s, size_t len);
/* Canonical decimal: digits only, no leading zero, at most 2^64-1.
 * Returns 0, or -1 with *why set to a message for the user. */
int fkex_u64_parse(uint64_t *out, const char *s, size_t len, const char **why);
/* Writes v in decimal, NUL-terminated, and returns its length. */
size_t fkex_u64_format(char out[FKEX_U64_DIGITS + 1], uint64_t v);
/* malloc'd "name#b<i>=<bit>"; NULL when out of memory. */
char *fkex_bit_name(const char *name, size_t len, unsigned i, unsigned bit);

/* ---- lexer (lex.c) -------------------------------------------------------- */
typedef enum {
    FKEX_TOK_END,
    FKEX_TOK_ERROR,          /* the lexer has filled in the error */
    FKEX_TOK_LPAREN,
    FKEX_TOK_RPAREN,
    FKEX_TOK_COMMA,
    FKEX_TOK_CMP,
    FKEX_TOK_NUMBER,
    FKEX_TOK_WORD,           /* an ATTRIBUTE (maybe a NAME) */
    FKEX_TOK_AND,
    FKEX_TOK_OR,
    FKEX_TOK_OF
} fkex_tok_type;

typedef struct {
    fkex_tok_type type;
    size_t pos, len;         /* byte offset and length in the text */
    uint64_t number;         /* NUMBER */
    fkex_cmp_op op;          /* CMP */
} fkex_token;

typedef struct {
    const char *text;
    size_t len, pos;
    fkex_policy_error *err;  /* never NULL */
    fkex_err code;           /* FKEX_OK until the first failure */
} fkex_lexer;

fkex_token fkex_lex_next(fkex_lexer *lx);
/* Records the first failure only: code, column pos + 1 and the message. */
void fkex_lex_fail(fkex_lexer *lx, fkex_err code, size_t pos, const char *fmt, ...)
#if defined(__GNUC__) || defined(__clang__)
    __attribute__((format(printf, 4, 5)))
#endif
    ;

/* ---- printing (print.c) --------------------------------------------------- */
/* Length of fkex_policy_print's output, without the NUL. */
size_t fkex_policy_printed_len(const fkex_policy *p);
const char *fkex_cmp_text(fkex_cmp_op op);

/* ---- the expanded tree (expand.c) ------------------------------------------
 * Comparisons unfolded into bit leaves; every leaf is one row of M, rows
 * numbered left to right. Gates live in one array, gate[0] is the root and
 * a gate's children are contiguous and come after it, so a backward scan
 * sees children before parents and a forward scan parents before children. */
typedef enum { FKEX_GATE_LEAF, FKEX_GATE_AND, FKEX_GATE_OR, FKEX_GATE_THRESHOLD } fkex_gate_kind;

typedef struct {
    uint8_t kind;            /* fkex_gate_kind */
    uint32_t k;              /* THRESHOLD; 1 < k < n */
    uint32_t n, first;       /* children gate[first .. first + n), n >= 2 */
    uint32_t row;            /* LEAF */
} fkex_gate;

struct fkex_lsss_node {
    size_t count;
    fkex_gate gate[];
};

/* Leaves of "name op c" once expanded (0 if it can never be true). */
size_t fkex_cmp_leaves(fkex_cmp_op op, uint64_t c);
/* Leaves and gates of the expanded tree of p. */
void fkex_expand_count(const fkex_policy *p, size_t *leaves, size_t *gates);
/* Fills tree (sized by fkex_expand_count) and attr[row] (malloc'd names).
 * On FKEX_ERR_NO_MEMORY the names made so far stay in attr for the caller
 * to free. */
fkex_err fkex_expand_build(struct fkex_lsss_node *tree, char **attr, const fkex_policy *p) FKEX_WUR;

#endif
