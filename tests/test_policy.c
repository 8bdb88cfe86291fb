/*
 * test_policy.c: the policy language and its LSSS.
 *
 * Known answers (canonical texts, error columns, small matrices), limits,
 * and algebraic checks against an evaluator written here from the grammar
 * alone: random policies are generated as trees in this file, rendered to
 * text with random spacing, case and redundant parentheses, and the
 * library's answers are compared with the tree's own.
 */
#include <stdlib.h>
#include "test.h"
#include "policy/ast.h"

/* ---- helpers ------------------------------------------------------------ */

static fkex_policy *parse_str(const char *s)
{
    fkex_policy *p = NULL;
    fkex_policy_error err;
    if (fkex_policy_parse(&p, s, strlen(s), &err) != FKEX_OK) {
        fprintf(stderr, "    parse failed: \"%s\": %s at column %zu\n", s, err.message, err.column);
        return NULL;
    }
    return p;
}

/* parse(print(p)) == p, and print is a fixed point. Returns print(p). */
static char *check_round_trip(const fkex_policy *p)
{
    char *text = NULL, *again = NULL;
    fkex_policy *q = NULL;
    CHECK_OK(fkex_policy_print(&text, p));
    if (!text)
        return NULL;
    q = parse_str(text);
    CHECK(q != NULL);
    CHECK(fkex_policy_equal(p, q));
    if (q) {
        CHECK_OK(fkex_policy_print(&again, q));
        CHECK(again && strcmp(text, again) == 0);
    }
    free(again);
    fkex_policy_free(q);
    return text;
}

static uint32_t rnd(fkex_rng *rng, uint32_t n)
{
    uint8_t b[4];
    fkex_rng_fill(rng, b, sizeof b);
    return load32_be(b) % n;
}

static uint64_t rnd64(fkex_rng *rng)
{
    uint8_t b[8];
    fkex_rng_fill(rng, b, sizeof b);
    return load64_be(b);
}

static char **expand_keys(size_t *n, const char *const *attrs, size_t nattrs)
{
    char **out = NULL;
    CHECK_OK(fkex_attrs_expand(&out, n, attrs, nattrs));
    return out;
}

static fkex_lsss *compile_str(const char *s)
{
    fkex_policy *p = parse_str(s);
    fkex_lsss *l = NULL;
    if (p)
        CHECK_OK(fkex_lsss_compile(&l, p));
    fkex_policy_free(p);
    return l;
}

/* Rows the solution uses: those with a nonzero omega. */
static size_t used_rows(const fkex_lsss_solution *sol)
{
    size_t n = 0;
    for (size_t i = 0; i < sol->rows; i++)
        n += !fkex_fr_is_zero(&sol->omega[i]);
    return n;
}

/* sum_i omega_i M_i == (1, 0, .., 0) over every row; the used rows' key
 * attributes match rho; all_one is the policy's (no threshold gate) and
 * then every omega is 0 or 1; and the secret comes back from the shares
 * of a random vector. */
static void check_solution(const fkex_lsss *l, const fkex_lsss_solution *sol,
                           char *const *keys, size_t nkey, fkex_rng *rng)
{
    fkex_fr *acc = malloc(l->cols * sizeof *acc);
    fkex_fr *v = malloc(l->cols * sizeof *v);
    fkex_fr *lambda = malloc(l->rows * sizeof *lambda);
    fkex_fr t, secret;
    int ones = 1, threshold = 0;

    CHECK(acc && v && lambda);
    if (!acc || !v || !lambda)
        goto done;
    CHECK(sol->rows == l->rows);
    CHECK(used_rows(sol) > 0);
    for (size_t j = 0; j < l->cols; j++)
        fkex_fr_zero(&acc[j]);
    for (size_t r = 0; r < sol->rows; r++) {
        if (fkex_fr_is_zero(&sol->omega[r]))
            continue;
        CHECK(sol->key_attr[r] < nkey);
        if (sol->key_attr[r] >= nkey)
            goto done;
        CHECK(strcmp(keys[sol->key_attr[r]], l->attr[r]) == 0);
        ones &= fkex_fr_is_one(&sol->omega[r]);
        for (size_t e = l->row_start[r]; e < l->row_start[r + 1]; e++) {
            CHECK(l->entry[e].col < l->cols);
            fkex_fr_mul(&t, &sol->omega[r], &l->entry[e].value);
            fkex_fr_add(&acc[l->entry[e].col], &acc[l->entry[e].col], &t);
        }
    }
    CHECK(fkex_fr_is_one(&acc[0]));
    for (size_t j = 1; j < l->cols; j++)
        CHECK(fkex_fr_is_zero(&acc[j]));
    for (size_t g = 0; g < l->tree->count; g++)
        threshold |= l->tree->gate[g].kind == FKEX_GATE_THRESHOLD;
    CHECK(sol->all_one == !threshold);
    if (sol->all_one)
        CHECK(ones);

    for (size_t j = 0; j < l->cols; j++)
        fkex_fr_random(&v[j], rng);
    fkex_lsss_share(lambda, l, v);
    fkex_fr_zero(&secret);
    for (size_t r = 0; r < sol->rows; r++) {
        fkex_fr_mul(&t, &sol->omega[r], &lambda[r]);
        fkex_fr_add(&secret, &secret, &t);
    }
    CHECK(fkex_fr_equal(&secret, &v[0]));
done:
    free(acc);
    free(v);
    free(lambda);
}

static int solution_is_zero(const fkex_lsss_solution *sol)
{
    return sol->rows == 0 && !sol->key_attr && !sol->omega && !sol->all_one;
}

/* ---- parse / print --------------------------------------------------------- */

static void canonical_forms(void)
{
    static const char *const cases[][2] = {
        { "(ONE or THREE) and (TWO or FOUR)", "(ONE or THREE) and (TWO or FOUR)" },
        { "dept:telematics and (year >= 5 or role:professor)",
          "dept:telematics and (year >= 5 or role:professor)" },
        { "A AND B Or C", "A and B or C" },
        { "a and (b and c)", "a and b and c" },
        { "(a and b) and c", "a and b and c" },
        { "(A or B) or (C or (D))", "A or B or C or D" },
        { "((A))", "A" },
        { "A or (B and C)", "A or B and C" },
        { "(A and B) or C", "A and B or C" },
        { "A and (B or C) and D", "A and (B or C) and D" },
        { "2 of (A, B, C)", "2 of (A, B, C)" },
        { "2 OF(A,B,C)", "2 of (A, B, C)" },
        { "1 of (A, B)", "A or B" },
        { "2 of (A, B)", "A and B" },
        { "1 of (A)", "A" },
        { "X and 1 of (A, B)", "X and (A or B)" },
        { "X and 3 of (A, B, C and D)", "X and A and B and C and D" },
        { "X or 1 of (A, B or C)", "X or A or B or C" },
        { "2 of (A or B, C and D, 2 of (E, F, G))", "2 of (A or B, C and D, 2 of (E, F, G))" },
        { "Z and 2 of (A, B, C)", "Z and 2 of (A, B, C)" },
        { "year>=5", "year >= 5" },
        { "level<3 and age==30", "level < 3 and age == 30" },
        { "x <= 18446744073709551615", "x <= 18446744073709551615" },
        { "x>0 or x<=0", "x > 0 or x <= 0" },
        { "x >= 0", "x >= 0" },
        { "u@x.org and a/b-c.d:e", "u@x.org and a/b-c.d:e" },
        { " \tA\n and\r\nB ", "A and B" },
        { "Andrew and Oregon or office", "Andrew and Oregon or office" },
        { "_x", "_x" },
    };
    for (size_t i = 0; i < FKEX_ARRAY_LEN(cases); i++) {
        fkex_policy *p = parse_str(cases[i][0]);
        CHECK(p != NULL);
        if (!p)
            continue;
        char *text = check_round_trip(p);
        CHECK(text && strcmp(text, cases[i][1]) == 0);
        if (text && strcmp(text, cases[i][1]) != 0)
            fprintf(stderr, "    \"%s\" printed as \"%s\"\n", cases[i][0], text);
        free(text);
        fkex_policy_free(p);
    }
}

static void equality(void)
{
    fkex_policy *a = parse_str("a and (b and c)"), *b = parse_str("a and b and c");
    fkex_policy *c = parse_str("a and c and b"), *d = parse_str("year >= 5");
    fkex_policy *e = parse_str("year > 4"), *f = parse_str("2 of (a, b, c)");
    fkex_policy *g = parse_str("2 of (a, b, d)"), *h = parse_str("3 of (a, b, c, d)");
    CHECK(fkex_policy_equal(a, b));
    CHECK(!fkex_policy_equal(a, c));   /* order is kept, not sorted */
    CHECK(!fkex_policy_equal(d, e));   /* the operator is kept as written */
    CHECK(!fkex_policy_equal(f, g));
    CHECK(!fkex_policy_equal(f, h));
    CHECK(fkex_policy_equal(NULL, NULL));
    CHECK(!fkex_policy_equal(a, NULL));
    fkex_policy_free(a);
    fkex_policy_free(b);
    fkex_policy_free(c);
    fkex_policy_free(d);
    fkex_policy_free(e);
    fkex_policy_free(f);
    fkex_policy_free(g);
    fkex_policy_free(h);
}

/* ---- a test-side policy tree, its text and its meaning ----------------------- */

enum { T_ATTR, T_CMP, T_AND, T_OR, T_THR };
enum { OP_LT, OP_LE, OP_GT, OP_GE, OP_EQ };

typedef struct tnode {
    int kind, op;
    unsigned k, n;
    const char *name;
    uint64_t c;
    struct tnode *kid[4];
} tnode;

static const char *const universe[] = { "A", "B", "C", "D", "E", "F", "dept:x" };
static const char *const numvars[] = { "x", "y" };
static const char *const optext[] = { "<", "<=", ">", ">=", "==" };

typedef struct {
    fkex_rng rng;
    int cmp_budget;   /* at most 8 comparisons: 8 * 64 leaves < 1024 */
} gen;

static uint64_t interesting(fkex_rng *rng)
{
    switch (rnd(rng, 6)) {
    case 0: return 0;
    case 1: return UINT64_MAX - rnd(rng, 2);
    case 2: return ((uint64_t)1 << 63) - 1 + rnd(rng, 3);
    case 3: return rnd64(rng);
    default: return rnd(rng, 13);
    }
}

static int impossible(int op, uint64_t c)
{
    return (op == OP_LT && c == 0) || (op == OP_GT && c == UINT64_MAX);
}

static void tree_free(tnode *t)
{
    if (!t)
        return;
    for (unsigned i = 0; i < t->n; i++)
        tree_free(t->kid[i]);
    free(t);
}

static tnode *gen_tree(gen *g, int depth)
{
    tnode *t = calloc(1, sizeof *t);
    if (!t)
        abort();
    if (depth == 0 || rnd(&g->rng, 3) == 0) {
        if (g->cmp_budget > 0 && rnd(&g->rng, 4) == 0) {
            g->cmp_budget--;
            t->kind = T_CMP;
            t->name = numvars[rnd(&g->rng, 2)];
            do {
                t->op = (int)rnd(&g->rng, 5);
                t->c = interesting(&g->rng);
            } while (impossible(t->op, t->c));
        } else {
            t->kind = T_ATTR;
            t->name = universe[rnd(&g->rng, FKEX_ARRAY_LEN(universe))];
        }
        return t;
    }
    t->kind = T_AND + (int)rnd(&g->rng, 3);
    t->n = 2 + rnd(&g->rng, 3);
    t->k = t->kind == T_THR ? 1 + rnd(&g->rng, t->n) : 0;
    for (unsigned i = 0; i < t->n; i++)
        t->kid[i] = gen_tree(g, depth - 1);
    return t;
}

typedef struct {
    char s[1 << 16];
    size_t len;
} text_buf;

static void put(text_buf *b, const char *s)
{
    size_t n = strlen(s);
    if (b->len + n >= sizeof b->s)
        abort();   /* the generator's trees are far smaller */
    memcpy(b->s + b->len, s, n + 1);
    b->len += n;
}

static void put_u64(text_buf *b, uint64_t v)
{
    char d[24];
    snprintf(d, sizeof d, "%llu", (unsigned long long)v);
    put(b, d);
}

/* Zero to two blanks; at least one where two words would otherwise merge. */
static void blank(gen *g, text_buf *b, int need)
{
    static const char *const ws[] = { " ", "\t", "\n", "  " };
    unsigned n = rnd(&g->rng, 3);
    if (need && n == 0)
        n = 1;
    while (n--)
        put(b, ws[rnd(&g->rng, 4)]);
}

static void keyword(gen *g, text_buf *b, const char *kw)
{
    char w[4];
    size_t i = 0;
    for (; kw[i]; i++)
        w[i] = rnd(&g->rng, 2) ? (char)(kw[i] - 'a' + 'A') : kw[i];
    w[i] = 0;
    put(b, w);
}

/* in_and: t is a child of an AND, so an OR needs parentheses. */
static void render(gen *g, text_buf *b, const tnode *t, int in_and)
{
    int paren = (t->kind == T_OR && in_and) || rnd(&g->rng, 8) == 0;
    if (paren) {
        put(b, "(");
        blank(g, b, 0);
    }
    switch (t->kind) {
    case T_ATTR:
        put(b, t->name);
        break;
    case T_CMP:
        put(b, t->name);
        blank(g, b, 0);
        put(b, optext[t->op]);
        blank(g, b, 0);
        put_u64(b, t->c);
        break;
    case T_AND:
    case T_OR:
        for (unsigned i = 0; i < t->n; i++) {
            if (i) {
                blank(g, b, 1);
                keyword(g, b, t->kind == T_AND ? "and" : "or");
                blank(g, b, 1);
            }
            render(g, b, t->kid[i], t->kind == T_AND);
        }
        break;
    default:
        put_u64(b, t->k);
        blank(g, b, 1);
        keyword(g, b, "of");
        blank(g, b, 0);
        put(b, "(");
        for (unsigned i = 0; i < t->n; i++) {
            if (i) {
                blank(g, b, 0);
                put(b, ",");
            }
            blank(g, b, 0);
            render(g, b, t->kid[i], 0);
        }
        blank(g, b, 0);
        put(b, ")");
        break;
    }
    if (paren) {
        blank(g, b, 0);
        put(b, ")");
    }
}

typedef struct {
    int has[FKEX_ARRAY_LEN(universe)];
    int has_num[2];
    uint64_t num[2];
} keyset;

static int compare(int op, uint64_t x, uint64_t c)
{
    switch (op) {
    case OP_LT: return x < c;
    case OP_LE: return x <= c;
    case OP_GT: return x > c;
    case OP_GE: return x >= c;
    default:    return x == c;
    }
}

static int eval(const tnode *t, const keyset *k)
{
    unsigned sat = 0, need;
    if (t->kind == T_ATTR) {
        for (size_t i = 0; i < FKEX_ARRAY_LEN(universe); i++)
            if (strcmp(universe[i], t->name) == 0)
                return k->has[i];
        return 0;
    }
    if (t->kind == T_CMP) {
        int v = t->name[0] == 'y';
        return k->has_num[v] && compare(t->op, k->num[v], t->c);
    }
    for (unsigned i = 0; i < t->n; i++)
        sat += (unsigned)eval(t->kid[i], k);
    need = t->kind == T_AND ? t->n : t->kind == T_OR ? 1 : t->k;
    return sat >= need;
}

#define NO_COST ((size_t)-1)

/* Fewest leaves that satisfy t; only for trees without comparisons. */
static size_t min_cost(const tnode *t, const keyset *k)
{
    size_t c[4], need, sum = 0;
    if (t->kind == T_ATTR)
        return eval(t, k) ? 1 : NO_COST;
    for (unsigned i = 0; i < t->n; i++)
        c[i] = min_cost(t->kid[i], k);
    for (unsigned i = 1; i < t->n; i++)     /* insertion sort, n <= 4 */
        for (unsigned j = i; j > 0 && c[j] < c[j - 1]; j--) {
            size_t x = c[j];
            c[j] = c[j - 1];
            c[j - 1] = x;
        }
    need = t->kind == T_AND ? t->n : t->kind == T_OR ? 1 : t->k;
    for (size_t i = 0; i < need; i++) {
        if (c[i] == NO_COST)
            return NO_COST;
        sum += c[i];
    }
    return sum;
}

static int has_kind(const tnode *t, int kind)
{
    if (t->kind == kind)
        return 1;
    for (unsigned i = 0; i < t->n; i++)
        if (has_kind(t->kid[i], kind))
            return 1;
    return 0;
}

static int has_vandermonde(const tnode *t)
{
    if (t->kind == T_THR && t->k > 1 && t->k < t->n)
        return 1;
    for (unsigned i = 0; i < t->n; i++)
        if (has_vandermonde(t->kid[i]))
            return 1;
    return 0;
}

static tnode *gen_policy(gen *g, text_buf *b)
{
    g->cmp_budget = 8;
    tnode *t = gen_tree(g, 1 + (int)rnd(&g->rng, 4));
    b->len = 0;
    b->s[0] = 0;
    render(g, b, t, 0);
    return t;
}

static void random_round_trips(void)
{
    static text_buf b;
    gen g;
    test_rng(&g.rng, "policy round trips");
    for (int iter = 0; iter < 2000; iter++) {
        tnode *t = gen_policy(&g, &b);
        fkex_policy *p = parse_str(b.s);
        CHECK(p != NULL);
        if (p)
            free(check_round_trip(p));
        fkex_policy_free(p);
        tree_free(t);
    }
}

/* ---- errors and limits -------------------------------------------------------- */

static void check_error(const char *text, size_t len, fkex_err code, size_t column, const char *msg)
{
    fkex_policy *p = (fkex_policy *)1;
    fkex_policy_error err;
    fkex_err e = fkex_policy_parse(&p, text, len, &err);
    CHECK(e == code);
    CHECK(p == NULL);
    CHECK(err.column == column);
    if (msg)
        CHECK(strcmp(err.message, msg) == 0);
    if (e != code || err.column != column || (msg && strcmp(err.message, msg) != 0))
        fprintf(stderr, "    \"%.60s\": got %d \"%s\" at column %zu\n", text, e, err.message, err.column);
}

static void error_positions(void)
{
    static const struct {
        const char *text;
        size_t column;
        const char *message;
    } cases[] = {
        { "(ONE or TWO", 12, "expected ')'" },
        { "(A or B) and (C", 16, "expected ')'" },
        { "(A B)", 4, "expected ')'" },
        { "ONE or", 7, "unexpected end of policy" },
        { "", 1, "unexpected end of policy" },
        { "   ", 4, "unexpected end of policy" },
        { "ONE $ TWO", 5, "unknown character '$'" },
        { "ONE TWO", 5, "expected 'and' or 'or'" },
        { "A and )", 7, "unexpected ')'" },
        { "()", 2, "unexpected ')'" },
        { "A)", 2, "unexpected ')'" },
        { "A or or B", 6, "unexpected 'or'" },
        { "of", 1, "unexpected 'of'" },
        { "4 of (A, B, C)", 1, "threshold 4 of 3 is impossible" },
        { "A and 0 of (B, C)", 7, "threshold 0 of 2 is impossible" },
        { "2 of A", 6, "expected '(' after 'of'" },
        { "2 (A, B)", 3, "expected 'of' after a number" },
        { "2 of (A, B", 11, "expected ',' or ')'" },
        { "2 of (A,)", 9, "unexpected ')'" },
        { "year < 0", 8, "comparison year < 0 can never be true" },
        { "year > 18446744073709551615", 8,
          "comparison year > 18446744073709551615 can never be true" },
        { "year > 18446744073709551616", 8, "number out of range" },
        { "year >= 05", 9, "number has a leading zero" },
        { "year >= -5", 9, "negative numbers are not allowed" },
        { "year = 5", 6, "'=' is not an operator; use '=='" },
        { "year >= B", 9, "expected a number after '>='" },
        { "year <", 7, "expected a number after '<'" },
        { "dept:x >= 5", 1, "a numeric attribute name has only letters, digits and '_'" },
        { "5abc", 1, "attribute names cannot start with a digit" },
        { "A and \x01", 7, "unknown byte 0x01" },
        { "caf\xc3\xa9", 4, "unknown byte 0xc3" },
        { "A - B", 3, "unknown character '-'" },
    };
    for (size_t i = 0; i < FKEX_ARRAY_LEN(cases); i++)
        check_error(cases[i].text, strlen(cases[i].text), FKEX_ERR_POLICY_SYNTAX,
                    cases[i].column, cases[i].message);
    /* a NUL inside the text is a character like any other */
    check_error("A\0B", 3, FKEX_ERR_POLICY_SYNTAX, 2, "unknown byte 0x00");

    /* names: 255 is the longest attribute, 249 the longest numeric name */
    char buf[300];
    memset(buf, 'a', sizeof buf);
    memcpy(buf, "B or ", 5);
    buf[5 + 255] = 0;
    fkex_policy *p = parse_str(buf);
    CHECK(p != NULL);
    fkex_policy_free(p);
    buf[5 + 255] = 'a';
    buf[5 + 256] = 0;
    check_error(buf, strlen(buf), FKEX_ERR_POLICY_SYNTAX, 6, "attribute name longer than 255 characters");
    memset(buf, 'n', sizeof buf);
    strcpy(buf + 249, " >= 1");
    p = parse_str(buf);
    CHECK(p != NULL);
    fkex_policy_free(p);
    memset(buf, 'n', sizeof buf);
    strcpy(buf + 250, " >= 1");
    check_error(buf, strlen(buf), FKEX_ERR_POLICY_SYNTAX, 1,
                "numeric attribute name longer than 249 characters");

    /* without an error structure, and bad arguments */
    p = (fkex_policy *)1;
    CHECK_ERR(fkex_policy_parse(&p, "A and", 5, NULL), FKEX_ERR_POLICY_SYNTAX);
    CHECK(p == NULL);
    CHECK_ERR(fkex_policy_parse(&p, NULL, 3, NULL), FKEX_ERR_ARGUMENT);
    CHECK_ERR(fkex_policy_parse(NULL, "A", 1, NULL), FKEX_ERR_ARGUMENT);
}

/* "A0 or A1 or ... A<n-1>" */
static char *many_leaves(size_t n, const char *sep)
{
    char *s = malloc(n * 16 + 1), *w = s;
    if (!s)
        abort();
    for (size_t i = 0; i < n; i++)
        w += sprintf(w, "%sA%zu", i ? sep : "", i);
    return s;
}

static char *nested(size_t depth, const char *open, const char *inner, const char *close)
{
    size_t lo = strlen(open), li = strlen(inner), lc = strlen(close);
    char *s = malloc(depth * (lo + lc) + li + 1), *w = s;
    if (!s)
        abort();
    for (size_t i = 0; i < depth; i++, w += lo)
        memcpy(w, open, lo);
    memcpy(w, inner, li);
    w += li;
    for (size_t i = 0; i < depth; i++, w += lc)
        memcpy(w, close, lc);
    *w = 0;
    return s;
}

static void limits(void)
{
    fkex_policy *p;
    fkex_lsss *l;
    char *s;

    s = many_leaves(1024, " or ");
    p = parse_str(s);
    CHECK(p != NULL);
    CHECK_OK(fkex_lsss_compile(&l, p));
    CHECK(l && l->rows == 1024 && l->cols == 1);
    fkex_lsss_free(l);
    fkex_policy_free(p);
    free(s);
    s = many_leaves(1025, " and ");
    check_error(s, strlen(s), FKEX_ERR_POLICY_LIMIT, (size_t)(strstr(s, "A1024") - s) + 1, NULL);
    free(s);

    /* comparisons count at their expanded size: 16 * 64 = 1024 */
    char cmp[17 * 16 + 1] = "";
    for (int i = 0; i < 16; i++)
        strcat(cmp, i ? " and x == 1" : "x == 1");
    p = parse_str(cmp);
    CHECK(p != NULL);
    fkex_policy_free(p);
    strcat(cmp, " or y > 0");
    check_error(cmp, strlen(cmp), FKEX_ERR_POLICY_LIMIT, strlen(cmp) - 4, NULL);

    s = nested(64, "(", "A", ")");
    p = parse_str(s);
    CHECK(p != NULL);
    fkex_policy_free(p);
    free(s);
    s = nested(65, "(", "A", ")");
    check_error(s, strlen(s), FKEX_ERR_POLICY_LIMIT, 65, "parentheses nested deeper than 64");
    free(s);
    s = nested(64, "2 of (A, B, ", "C", ")");
    p = parse_str(s);
    CHECK(p != NULL);
    if (p)
        free(check_round_trip(p));
    fkex_policy_free(p);
    free(s);
    s = nested(65, "2 of (A, B, ", "C", ")");
    check_error(s, strlen(s), FKEX_ERR_POLICY_LIMIT, 64 * 12 + 6, NULL);
    free(s);

    /* the longest text, all '(': the depth limit, not the stack, stops it */
    s = malloc(FKEX_POLICY_MAX_TEXT);
    memset(s, '(', FKEX_POLICY_MAX_TEXT);
    check_error(s, FKEX_POLICY_MAX_TEXT, FKEX_ERR_POLICY_LIMIT, 65, NULL);
    free(s);
    /* 1 MB of '(' */
    s = malloc(1 << 20);
    memset(s, '(', 1 << 20);
    check_error(s, 1 << 20, FKEX_ERR_POLICY_LIMIT, FKEX_POLICY_MAX_TEXT + 1, NULL);
    free(s);

    /* 1024 names of 62 bytes: 64518 bytes as written, but the canonical
     * text adds a space after each comma and would not fit in 65535. */
    size_t len = 0;
    s = malloc(1024 * 63 + 16);
    len += (size_t)sprintf(s, "2 of(");
    for (int i = 0; i < 1024; i++)
        len += (size_t)sprintf(s + len, "%sz%061d", i ? "," : "", i);
    len += (size_t)sprintf(s + len, ")");
    CHECK(len <= FKEX_POLICY_MAX_TEXT);
    check_error(s, len, FKEX_ERR_POLICY_LIMIT, 1, NULL);
    free(s);
}

/* ---- key attributes -------------------------------------------------------------- */

static void attributes(void)
{
    static const char *const good[] = {
        "ONE", "dept:telematics", "u@x.org", "a/b-c.d", "_a", "Andrew",
        "year=5", "year=0", "year=18446744073709551615", "y_2=7",
    };
    static const char *const bad[] = {
        "", "and", "OR", "Of", "1abc", "a b", "a#b", "a=b=c", "year=", "year=05",
        "year=-1", "year=18446744073709551616", "dept:x=5", "=5", "year=5x", "\xc3\xa9",
    };
    char longname[300];

    for (size_t i = 0; i < FKEX_ARRAY_LEN(good); i++)
        CHECK_OK(fkex_attr_check(good[i]));
    for (size_t i = 0; i < FKEX_ARRAY_LEN(bad); i++)
        CHECK_ERR(fkex_attr_check(bad[i]), FKEX_ERR_ATTRIBUTE);
    CHECK_ERR(fkex_attr_check(NULL), FKEX_ERR_ARGUMENT);
    memset(longname, 'a', sizeof longname);
    longname[255] = 0;
    CHECK_OK(fkex_attr_check(longname));
    longname[255] = 'a';
    longname[256] = 0;
    CHECK_ERR(fkex_attr_check(longname), FKEX_ERR_ATTRIBUTE);
    strcpy(longname + 249, "=1");
    CHECK_OK(fkex_attr_check(longname));
    memset(longname, 'a', sizeof longname);
    strcpy(longname + 250, "=1");
    CHECK_ERR(fkex_attr_check(longname), FKEX_ERR_ATTRIBUTE);

    /* expansion: sorted, 64 bits per number */
    const char *in[] = { "B", "year=5", "A", "year" };
    char **out = NULL;
    size_t n = 0;
    CHECK_OK(fkex_attrs_expand(&out, &n, in, 4));
    CHECK(n == 3 + 64);
    for (size_t i = 1; i < n; i++)
        CHECK(strcmp(out[i - 1], out[i]) < 0);
    static const char *const expect[] = {
        "A", "B", "year", "year#b0=1", "year#b1=0", "year#b2=1", "year#b3=0", "year#b63=0",
    };
    for (size_t i = 0; i < FKEX_ARRAY_LEN(expect); i++) {
        int found = 0;
        for (size_t j = 0; j < n; j++)
            found |= strcmp(out[j], expect[i]) == 0;
        CHECK(found);
    }
    fkex_attrs_free(out, n);

    static const char *const dup1[] = { "A", "B", "A" };
    static const char *const dup2[] = { "year=5", "year=6" };
    static const char *const dup3[] = { "year=5", "x=1", "year=5" };
    static const char *const dup4[] = { "year=0", "year=18446744073709551615" };
    static const char *const badin[] = { "A", "no way" };
    out = (char **)1;
    CHECK_ERR(fkex_attrs_expand(&out, &n, dup1, 3), FKEX_ERR_ATTRIBUTE);
    CHECK(out == NULL && n == 0);
    CHECK_ERR(fkex_attrs_expand(&out, &n, dup2, 2), FKEX_ERR_ATTRIBUTE);
    CHECK_ERR(fkex_attrs_expand(&out, &n, dup3, 3), FKEX_ERR_ATTRIBUTE);
    CHECK_ERR(fkex_attrs_expand(&out, &n, dup4, 2), FKEX_ERR_ATTRIBUTE);
    CHECK_ERR(fkex_attrs_expand(&out, &n, badin, 2), FKEX_ERR_ATTRIBUTE);
    CHECK_OK(fkex_attrs_expand(&out, &n, NULL, 0));
    CHECK(n == 0);
    fkex_attrs_free(out, n);
}

/* ---- LSSS ------------------------------------------------------------------------- */

typedef struct {
    uint32_t col;
    int64_t value;
} small_entry;

static void check_row(const fkex_lsss *l, size_t r, const char *attr,
                      const small_entry *want, size_t n)
{
    CHECK(strcmp(l->attr[r], attr) == 0);
    CHECK(l->row_start[r + 1] - l->row_start[r] == n);
    if (l->row_start[r + 1] - l->row_start[r] != n)
        return;
    for (size_t i = 0; i < n; i++) {
        const fkex_lsss_entry *e = &l->entry[l->row_start[r] + i];
        fkex_fr v;
        fkex_fr_from_u64(&v, (uint64_t)(want[i].value < 0 ? -want[i].value : want[i].value));
        if (want[i].value < 0)
            fkex_fr_neg(&v, &v);
        CHECK(e->col == want[i].col);
        CHECK(fkex_fr_equal(&e->value, &v));
    }
}

static void lsss_known_answers(void)
{
    fkex_lsss *l;

    l = compile_str("A and B and C");
    CHECK(l && l->rows == 3 && l->cols == 3);
    if (l) {
        check_row(l, 0, "A", (small_entry[]){ { 0, 1 }, { 1, 1 } }, 2);
        check_row(l, 1, "B", (small_entry[]){ { 1, -1 }, { 2, 1 } }, 2);
        check_row(l, 2, "C", (small_entry[]){ { 2, -1 } }, 1);
    }
    fkex_lsss_free(l);

    l = compile_str("A or B");
    CHECK(l && l->rows == 2 && l->cols == 1);
    if (l) {
        check_row(l, 0, "A", (small_entry[]){ { 0, 1 } }, 1);
        check_row(l, 1, "B", (small_entry[]){ { 0, 1 } }, 1);
    }
    fkex_lsss_free(l);

    l = compile_str("(A or B) and C");
    CHECK(l && l->rows == 3 && l->cols == 2);
    if (l) {
        check_row(l, 0, "A", (small_entry[]){ { 0, 1 }, { 1, 1 } }, 2);
        check_row(l, 1, "B", (small_entry[]){ { 0, 1 }, { 1, 1 } }, 2);
        check_row(l, 2, "C", (small_entry[]){ { 1, -1 } }, 1);
    }
    fkex_lsss_free(l);

    l = compile_str("3 of (A, B, C, D)");
    CHECK(l && l->rows == 4 && l->cols == 3);
    if (l) {
        check_row(l, 0, "A", (small_entry[]){ { 0, 1 }, { 1, 1 }, { 2, 1 } }, 3);
        check_row(l, 1, "B", (small_entry[]){ { 0, 1 }, { 1, 2 }, { 2, 4 } }, 3);
        check_row(l, 2, "C", (small_entry[]){ { 0, 1 }, { 1, 3 }, { 2, 9 } }, 3);
        check_row(l, 3, "D", (small_entry[]){ { 0, 1 }, { 1, 4 }, { 2, 16 } }, 3);
    }
    fkex_lsss_free(l);

    /* a threshold under an AND extends the AND's vector v||1 */
    l = compile_str("X and 2 of (A, B, C)");
    CHECK(l && l->rows == 4 && l->cols == 3);
    if (l) {
        check_row(l, 0, "X", (small_entry[]){ { 0, 1 }, { 1, 1 } }, 2);
        check_row(l, 1, "A", (small_entry[]){ { 1, -1 }, { 2, 1 } }, 2);
        check_row(l, 3, "C", (small_entry[]){ { 1, -1 }, { 2, 3 } }, 2);
    }
    fkex_lsss_free(l);

    /* x > 5 = 0b101: the lowest zero bit is 1, so bits 63..1, all "=1" */
    l = compile_str("x > 5");
    CHECK(l && l->rows == 63);
    if (l) {
        CHECK(strcmp(l->attr[0], "x#b63=1") == 0);
        CHECK(strcmp(l->attr[62], "x#b1=1") == 0);
    }
    fkex_lsss_free(l);
    l = compile_str("x == 5");
    CHECK(l && l->rows == 64 && l->cols == 64);
    if (l) {
        CHECK(strcmp(l->attr[0], "x#b63=0") == 0);
        CHECK(strcmp(l->attr[63], "x#b0=1") == 0);
    }
    fkex_lsss_free(l);
    l = compile_str("x >= 0");
    CHECK(l && l->rows == 2 && l->cols == 1);
    if (l) {
        CHECK(strcmp(l->attr[0], "x#b63=0") == 0);
        CHECK(strcmp(l->attr[1], "x#b63=1") == 0);
    }
    fkex_lsss_free(l);
    /* x < 8 = 0b1000: bits 63..3, all "=0" */
    l = compile_str("x < 8");
    CHECK(l && l->rows == 61);
    if (l)
        CHECK(strcmp(l->attr[60], "x#b3=0") == 0);
    fkex_lsss_free(l);
}

static void keyset_strings(const keyset *k, const char **names, char num[2][48], size_t *n)
{
    *n = 0;
    for (size_t i = 0; i < FKEX_ARRAY_LEN(universe); i++)
        if (k->has[i])
            names[(*n)++] = universe[i];
    for (int v = 0; v < 2; v++) {
        if (!k->has_num[v])
            continue;
        snprintf(num[v], 48, "%s=%llu", numvars[v], (unsigned long long)k->num[v]);
        names[(*n)++] = num[v];
    }
}

static void lsss_random(void)
{
    static text_buf b;
    gen g;
    int satisfied = 0, unsatisfied = 0;

    test_rng(&g.rng, "policy lsss");
    for (int iter = 0; iter < 400; iter++) {
        tnode *t = gen_policy(&g, &b);
        fkex_lsss *l = compile_str(b.s);
        CHECK(l != NULL);
        for (int trial = 0; l && trial < 12; trial++) {
            keyset k;
            const char *names[16];
            char num[2][48];
            size_t nn, nkey;
            fkex_lsss_solution sol;

            memset(&k, 0, sizeof k);
            for (size_t i = 0; i < FKEX_ARRAY_LEN(universe); i++)
                k.has[i] = rnd(&g.rng, 3) != 0;
            for (int v = 0; v < 2; v++) {
                k.has_num[v] = rnd(&g.rng, 5) != 0;
                k.num[v] = interesting(&g.rng);
            }
            keyset_strings(&k, names, num, &nn);
            char **keys = expand_keys(&nkey, names, nn);
            fkex_err e = fkex_lsss_satisfy(&sol, l, (const char *const *)keys, nkey);
            int want = eval(t, &k);
            CHECK(e == (want ? FKEX_OK : FKEX_ERR_POLICY_UNSATISFIED));
            if (e == FKEX_OK) {
                satisfied++;
                check_solution(l, &sol, keys, nkey, &g.rng);
                if (!has_vandermonde(t))
                    CHECK(sol.all_one);
                if (!has_kind(t, T_CMP))
                    CHECK(used_rows(&sol) == min_cost(t, &k));
            } else {
                unsatisfied++;
                CHECK(solution_is_zero(&sol));
            }
            fkex_lsss_solution_free(&sol);
            fkex_attrs_free(keys, nkey);
        }
        fkex_lsss_free(l);
        tree_free(t);
    }
    /* the generator must exercise both outcomes */
    CHECK(satisfied > 1000 && unsatisfied > 1000);
}

static int run_numeric(fkex_lsss *l, char *const *keys, size_t nkey, fkex_rng *rng)
{
    fkex_lsss_solution sol;
    fkex_err e = fkex_lsss_satisfy(&sol, l, (const char *const *)keys, nkey);
    CHECK(e == FKEX_OK || e == FKEX_ERR_POLICY_UNSATISFIED);
    if (e == FKEX_OK) {
        check_solution(l, &sol, keys, nkey, rng);
        CHECK(sol.all_one);
    } else {
        CHECK(solution_is_zero(&sol));
    }
    fkex_lsss_solution_free(&sol);
    return e == FKEX_OK;
}

static void numeric_values(const uint64_t *vals, size_t nvals, const char *label)
{
    fkex_rng rng;
    char **keys[64];
    size_t nkey[64];
    char policy[64], attr[48];

    test_rng(&rng, label);
    for (size_t i = 0; i < nvals; i++) {
        const char *a = attr;
        snprintf(attr, sizeof attr, "x=%llu", (unsigned long long)vals[i]);
        keys[i] = expand_keys(&nkey[i], &a, 1);
    }
    for (int op = 0; op < 5; op++) {
        for (size_t ci = 0; ci < nvals; ci++) {
            uint64_t c = vals[ci];
            fkex_policy *p = NULL;
            fkex_lsss *l = NULL;
            snprintf(policy, sizeof policy, "x %s %llu", optext[op], (unsigned long long)c);
            fkex_err e = fkex_policy_parse(&p, policy, strlen(policy), NULL);
            if (impossible(op, c)) {
                CHECK_ERR(e, FKEX_ERR_POLICY_SYNTAX);
                continue;
            }
            CHECK_OK(e);
            CHECK_OK(fkex_lsss_compile(&l, p));
            for (size_t xi = 0; l && xi < nvals; xi++) {
                int got = run_numeric(l, keys[xi], nkey[xi], &rng);
                CHECK(got == compare(op, vals[xi], c));
                if (got != compare(op, vals[xi], c))
                    fprintf(stderr, "    %s with x=%llu\n", policy, (unsigned long long)vals[xi]);
            }
            fkex_lsss_free(l);
            fkex_policy_free(p);
        }
    }
    for (size_t i = 0; i < nvals; i++)
        fkex_attrs_free(keys[i], nkey[i]);
}

static void numeric_exhaustive(void)
{
    uint64_t small[41];
    for (int i = 0; i <= 40; i++)
        small[i] = (uint64_t)i;
    numeric_values(small, 41, "numeric small");
}

static void numeric_edges(void)
{
    static const uint64_t edges[] = {
        0, 1, 2, 3,
        ((uint64_t)1 << 62), ((uint64_t)1 << 63) - 1, (uint64_t)1 << 63, ((uint64_t)1 << 63) + 1,
        0x5555555555555555u, 0xaaaaaaaaaaaaaaaau, 0xfffffffffffffffeu, 0xffffffffffffffffu,
    };
    numeric_values(edges, FKEX_ARRAY_LEN(edges), "numeric edges");

    /* a key without the attribute satisfies no comparison, not even >= 0 */
    static const char *const other[] = { "y=3", "x" };
    size_t n;
    char **keys = expand_keys(&n, other, 2);
    fkex_lsss_solution sol;
    fkex_lsss *l = compile_str("x >= 0");
    CHECK(l != NULL);
    if (l)
        CHECK_ERR(fkex_lsss_satisfy(&sol, l, (const char *const *)keys, n), FKEX_ERR_POLICY_UNSATISFIED);
    fkex_lsss_free(l);
    l = compile_str("y >= 3 and y <= 3 and y == 3 and y > 2 and y < 4 and x");
    CHECK(l != NULL);
    fkex_rng rng;
    test_rng(&rng, "numeric and");
    if (l)
        CHECK(run_numeric(l, keys, n, &rng));
    fkex_lsss_free(l);
    fkex_attrs_free(keys, n);
}

/* Expected omega for a 2-of-3 choosing children 2 and 3: L_2 = 3/(3-2) = 3,
 * L_3 = 2/(2-3) = -2. */
static void minimality(void)
{
    static const char *const abc[] = { "A", "B", "C", "D" };
    fkex_lsss_solution sol;
    fkex_lsss *l;
    fkex_rng rng;
    fkex_fr three, minus_two;
    size_t n;
    char **keys = expand_keys(&n, abc, 4);

    test_rng(&rng, "minimality");
    l = compile_str("A or (B and C)");
    CHECK(l && fkex_lsss_satisfy(&sol, l, (const char *const *)keys, 3) == FKEX_OK);
    CHECK(used_rows(&sol) == 1 && fkex_fr_is_one(&sol.omega[0]) && sol.key_attr[0] == 0
          && sol.all_one);
    fkex_lsss_solution_free(&sol);
    fkex_lsss_free(l);

    l = compile_str("(B and C) or A");
    CHECK(l && fkex_lsss_satisfy(&sol, l, (const char *const *)keys, 3) == FKEX_OK);
    CHECK(used_rows(&sol) == 1 && fkex_fr_is_one(&sol.omega[2]) && sol.key_attr[2] == 0);
    fkex_lsss_solution_free(&sol);
    fkex_lsss_free(l);

    l = compile_str("2 of (A and B, C, D)");
    CHECK(l && fkex_lsss_satisfy(&sol, l, (const char *const *)keys, 4) == FKEX_OK);
    CHECK(used_rows(&sol) == 2 && fkex_fr_is_zero(&sol.omega[0])
          && fkex_fr_is_zero(&sol.omega[1]) && !sol.all_one);
    fkex_fr_from_u64(&three, 3);
    fkex_fr_from_u64(&minus_two, 2);
    fkex_fr_neg(&minus_two, &minus_two);
    if (used_rows(&sol) == 2) {
        CHECK(fkex_fr_equal(&sol.omega[2], &three));
        CHECK(fkex_fr_equal(&sol.omega[3], &minus_two));
        check_solution(l, &sol, keys, 4, &rng);
    }
    fkex_lsss_solution_free(&sol);
    /* without D it must take A and B */
    CHECK(l && fkex_lsss_satisfy(&sol, l, (const char *const *)keys, 3) == FKEX_OK);
    CHECK(used_rows(&sol) == 3 && fkex_fr_is_zero(&sol.omega[3]));
    if (used_rows(&sol) == 3)
        check_solution(l, &sol, keys, 3, &rng);
    fkex_lsss_solution_free(&sol);
    fkex_lsss_free(l);

    /* not satisfied: nothing allocated, all zero */
    l = compile_str("A and D");
    memset(&sol, 0xff, sizeof sol);
    CHECK(l && fkex_lsss_satisfy(&sol, l, (const char *const *)keys, 3) == FKEX_ERR_POLICY_UNSATISFIED);
    CHECK(solution_is_zero(&sol));
    CHECK_ERR(fkex_lsss_satisfy(&sol, l, NULL, 0), FKEX_ERR_POLICY_UNSATISFIED);
    /* unsorted key names are refused, not half-searched */
    const char *unsorted[] = { "D", "A" };
    CHECK_ERR(fkex_lsss_satisfy(&sol, l, unsorted, 2), FKEX_ERR_ARGUMENT);
    CHECK(solution_is_zero(&sol));
    fkex_lsss_free(l);
    fkex_attrs_free(keys, n);
}

/* 1 if (1, 0, .., 0) is in the span of the given rows of M: Gaussian
 * elimination over Fr on a dense copy, then the target is reduced by the
 * echelon rows. This is the LSSS's security condition, not just its
 * correctness: a set that does not satisfy the policy must not span it. */
static int target_in_span(const fkex_lsss *l, const size_t *rows, size_t n)
{
    size_t cols = l->cols, rank = 0;
    fkex_fr *a = calloc(n * cols + cols, sizeof *a), *t = a + n * cols, tmp, inv;
    int in_span = 1;
    if (!a)
        abort();
    for (size_t i = 0; i < n; i++)
        for (size_t e = l->row_start[rows[i]]; e < l->row_start[rows[i] + 1]; e++)
            a[i * cols + l->entry[e].col] = l->entry[e].value;
    fkex_fr_one(&t[0]);
    for (size_t c = 0; c < cols && rank < n; c++) {
        size_t p = rank;
        while (p < n && fkex_fr_is_zero(&a[p * cols + c]))
            p++;
        if (p == n)
            continue;
        for (size_t j = 0; j < cols; j++) {      /* swap p to the rank row */
            tmp = a[p * cols + j];
            a[p * cols + j] = a[rank * cols + j];
            a[rank * cols + j] = tmp;
        }
        fkex_fr_inv(&inv, &a[rank * cols + c]);
        for (size_t j = 0; j < cols; j++)
            fkex_fr_mul(&a[rank * cols + j], &a[rank * cols + j], &inv);
        for (size_t i = rank + 1; i < n; i++) {
            fkex_fr f = a[i * cols + c];
            if (fkex_fr_is_zero(&f))
                continue;
            for (size_t j = 0; j < cols; j++) {
                fkex_fr_mul(&tmp, &f, &a[rank * cols + j]);
                fkex_fr_sub(&a[i * cols + j], &a[i * cols + j], &tmp);
            }
        }
        fkex_fr f = t[c];
        for (size_t j = 0; j < cols; j++) {
            fkex_fr_mul(&tmp, &f, &a[rank * cols + j]);
            fkex_fr_sub(&t[j], &t[j], &tmp);
        }
        rank++;
    }
    for (size_t j = 0; j < cols; j++)
        in_span &= fkex_fr_is_zero(&t[j]);
    free(a);
    return in_span;
}

/* For every subset of the key's attributes: the rows the key holds span
 * the target exactly when the policy says it is satisfied. */
static void lsss_security(void)
{
    static text_buf b;
    gen g;
    size_t rows[256];
    int checked = 0;

    test_rng(&g.rng, "policy lsss security");
    for (int iter = 0; iter < 150; iter++) {
        tnode *t;
        do {
            g.cmp_budget = 0;
            t = gen_tree(&g, 1 + (int)rnd(&g.rng, 3));
            b.len = 0;
            render(&g, &b, t, 0);
            if (has_vandermonde(t))
                break;
            tree_free(t);     /* thresholds are what this test is about */
        } while (1);
        fkex_lsss *l = compile_str(b.s);
        CHECK(l && l->rows <= 64);
        for (unsigned mask = 0; l && l->rows <= 64 && mask < (1u << FKEX_ARRAY_LEN(universe)); mask++) {
            keyset k;
            size_t n = 0;
            memset(&k, 0, sizeof k);
            for (size_t i = 0; i < FKEX_ARRAY_LEN(universe); i++)
                k.has[i] = (mask >> i) & 1;
            for (size_t r = 0; r < l->rows; r++)
                for (size_t i = 0; i < FKEX_ARRAY_LEN(universe); i++)
                    if (k.has[i] && strcmp(l->attr[r], universe[i]) == 0)
                        rows[n++] = r;
            CHECK(target_in_span(l, rows, n) == eval(t, &k));
            checked++;
        }
        fkex_lsss_free(l);
        tree_free(t);
    }
    CHECK(checked == 150 * 128);

    /* the same for comparisons, over every value of a 4-bit x */
    static const char *const numeric[] = {
        "x > 5 and x < 9", "x >= 2 and x <= 2", "2 of (x == 7, x <= 3, x > 12)",
    };
    for (size_t i = 0; i < FKEX_ARRAY_LEN(numeric); i++) {
        fkex_lsss *l = compile_str(numeric[i]);
        for (uint64_t x = 0; l && x < 16; x++) {
            char attr[24];
            const char *a = attr;
            size_t nkey, n = 0;
            snprintf(attr, sizeof attr, "x=%llu", (unsigned long long)x);
            char **keys = expand_keys(&nkey, &a, 1);
            for (size_t r = 0; r < l->rows && n < 256; r++)
                for (size_t j = 0; j < nkey; j++)
                    if (strcmp(l->attr[r], keys[j]) == 0)
                        rows[n++] = r;
            int want = i == 0 ? x > 5 && x < 9 : i == 1 ? x == 2
                     : (x == 7) + (x <= 3) + (x > 12) >= 2;
            CHECK(n < 256);
            CHECK(target_in_span(l, rows, n) == want);
            fkex_attrs_free(keys, nkey);
        }
        fkex_lsss_free(l);
    }
}

/* 64 levels of alternating AND/OR with a 62-run comparison chain at the
 * bottom: the deepest tree the limits allow must still compile and solve. */
static void deep_policy(void)
{
    char *s = nested(64, "Q or (R and (", "x > 6148914691236517205", "))");
    fkex_policy *p;
    fkex_policy_error err;
    CHECK_ERR(fkex_policy_parse(&p, s, strlen(s), &err), FKEX_ERR_POLICY_LIMIT);
    free(s);
    s = nested(32, "Q or (R and (", "x > 6148914691236517205", "))");
    p = parse_str(s);
    CHECK(p != NULL);
    if (p) {
        fkex_lsss *l = NULL;
        fkex_lsss_solution sol;
        fkex_rng rng;
        const char *in[] = { "R", "x=12297829382473034410" };   /* 0xaaaa... */
        size_t n;
        char **keys = expand_keys(&n, in, 2);
        test_rng(&rng, "deep");
        free(check_round_trip(p));
        CHECK_OK(fkex_lsss_compile(&l, p));
        CHECK(l && fkex_lsss_satisfy(&sol, l, (const char *const *)keys, n) == FKEX_OK);
        if (l && sol.rows)
            check_solution(l, &sol, keys, n, &rng);
        fkex_lsss_solution_free(&sol);
        fkex_lsss_free(l);
        fkex_attrs_free(keys, n);
    }
    fkex_policy_free(p);
    free(s);
}

/* A policy from a stranger cannot make the matrix arbitrarily large. */
static void matrix_bound(void)
{
    char *text = malloc(16 * 1024);
    size_t len = (size_t)sprintf(text, "1000 of (");
    fkex_policy *p;
    fkex_lsss *l;
    for (int i = 0; i < 1024; i++)
        len += (size_t)sprintf(text + len, "%sA%d", i ? ", " : "", i);
    len += (size_t)sprintf(text + len, ")");
    CHECK_OK(fkex_policy_parse(&p, text, len, NULL));
    if (p) {
        CHECK_ERR(fkex_lsss_compile(&l, p), FKEX_ERR_POLICY_LIMIT);
        fkex_policy_free(p);
    }
    free(text);
}

/* Keys that expire: months, the attribute, and the requirement added to a
 * policy's tree, which must be what parsing "(P) and expires >= M" gives. */
static void expiry(void)
{
    static const char *const policies[] = {
        "ONE", "ONE and TWO", "ONE or TWO", "2 of (A, B, C)", "year >= 5 and (X or Y)",
        "expires >= 202001",
    };
    char attr[FKEX_EXPIRY_ATTR_LEN + 1], text[256];
    uint32_t m;
    CHECK_OK(fkex_month_parse(&m, "2026-12"));
    CHECK(m == 202612);
    CHECK_OK(fkex_month_parse(&m, "1970-01"));
    CHECK(m == 197001);
    {
        static const char *const bad[] = { "2026-13", "2026-00", "1969-12", "2026-1", "2026/12",
                                           "26-12", "2026-12 ", "", "2026-1x" };
        for (size_t i = 0; i < FKEX_ARRAY_LEN(bad); i++)
            CHECK_ERR(fkex_month_parse(&m, bad[i]), FKEX_ERR_ARGUMENT);
    }
    CHECK_OK(fkex_expiry_attr(attr, 202612));
    CHECK(strcmp(attr, "expires=202612") == 0);
    CHECK_OK(fkex_attr_check(attr));
    CHECK(fkex_expiry_of(attr) == 202612);
    CHECK_ERR(fkex_expiry_attr(attr, 202613), FKEX_ERR_ARGUMENT);
    CHECK(fkex_expiry_of("expires=20261") == 0 && fkex_expiry_of("expires=202613") == 0);
    CHECK(fkex_expiry_of("expired=202612") == 0 && fkex_expiry_of("ONE") == 0);

    for (size_t i = 0; i < FKEX_ARRAY_LEN(policies); i++) {
        fkex_policy *p, *got, *want;
        CHECK_OK(fkex_policy_parse(&p, policies[i], strlen(policies[i]), NULL));
        CHECK_OK(fkex_policy_valid_at(&got, p, 202612, NULL));
        snprintf(text, sizeof text, "(%s) and expires >= 202612", policies[i]);
        CHECK_OK(fkex_policy_parse(&want, text, strlen(text), NULL));
        CHECK(got && want && fkex_policy_equal(got, want));
        fkex_policy_free(p);
        fkex_policy_free(got);
        fkex_policy_free(want);
    }
    /* The limits hold: 1000 leaves leave no room for 64 more. */
    {
        size_t cap = 16 * 1000, len = 0;
        char *big = malloc(cap);
        fkex_policy *p, *got = NULL;
        fkex_policy_error err;
        for (int i = 0; i < 1000; i++)
            len += (size_t)snprintf(big + len, cap - len, "%sA%d", i ? " and " : "", i);
        CHECK_OK(fkex_policy_parse(&p, big, len, NULL));
        CHECK_ERR(fkex_policy_valid_at(&got, p, 202612, &err), FKEX_ERR_POLICY_LIMIT);
        CHECK(got == NULL && strstr(err.message, "1024") != NULL);
        CHECK_ERR(fkex_policy_valid_at(&got, p, 1, NULL), FKEX_ERR_ARGUMENT);
        fkex_policy_free(p);
        free(big);
    }
}

void suite_policy(void)
{
    RUN(matrix_bound);
    RUN(canonical_forms);
    RUN(equality);
    RUN(random_round_trips);
    RUN(error_positions);
    RUN(limits);
    RUN(attributes);
    RUN(lsss_known_answers);
    RUN(lsss_random);
    RUN(lsss_security);
    RUN(numeric_exhaustive);
    RUN(numeric_edges);
    RUN(minimality);
    RUN(deep_policy);
    RUN(expiry);
}
