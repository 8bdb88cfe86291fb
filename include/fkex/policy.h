/*
 * fkex/policy.h: the policy language: parse, print, compare.
 *
 * Grammar (keywords are case-insensitive; attributes are case-sensitive):
 *
 *   policy     := or_expr
 *   or_expr    := and_expr { "or" and_expr }
 *   and_expr   := primary { "and" primary }
 *   primary    := "(" or_expr ")"
 *              |  NUMBER "of" "(" or_expr { "," or_expr } ")"     k-of-n gate
 *              |  NAME CMP NUMBER                                 numeric comparison
 *              |  ATTRIBUTE
 *   CMP        := "<" | "<=" | ">" | ">=" | "=="
 *   ATTRIBUTE  := [A-Za-z_][A-Za-z0-9_.:@/-]*   (not a keyword)
 *   NAME       := [A-Za-z_][A-Za-z0-9_]*        (numeric attribute name)
 *   NUMBER     := decimal, 0 .. 2^64-1, no leading zeros
 *
 * A key carries numeric attributes as "year=5". Both sides expand them into
 * FKEX_NUMERIC_BITS "bag of bits" attributes (Bethencourt-Sahai-Waters 2007)
 * named "year#b<i>=<bit>"; '#' cannot occur in a user attribute, so the
 * expanded names never collide with user attributes. A numeric NAME has at
 * most FKEX_ATTR_MAX_LEN - 6 characters, so every name in a key or a matrix,
 * expanded or not, has at most FKEX_ATTR_MAX_LEN.
 *
 * Canonical form: AND/OR chains are flattened; "1 of (..)" is an OR and
 * "n of (..)" (n children) an AND, so a threshold node always has 1 < k < n;
 * "1 of (x)" and "(x)" are x. Comparisons stay as written ("year >= 5" is
 * not rewritten to "year > 4") and become bits only in fkex_lsss_compile.
 * "x >= 0" and "x <= 2^64-1" mean "the key has some value for x"; "x < 0"
 * and "x > 2^64-1" can never hold and are syntax errors.
 *
 * Limits: FKEX_POLICY_MAX_TEXT bytes of text, and of canonical text;
 * FKEX_POLICY_MAX_LEAVES leaves after expansion (a comparison counts its
 * bits, up to 64); FKEX_POLICY_MAX_DEPTH levels of nested parentheses
 * (groups and thresholds alike), checked before the parser descends.
 * Parsing, printing and compiling allocate (this is an edge layer); every
 * allocation failure is FKEX_ERR_NO_MEMORY and leaks nothing.
 */
#ifndef FKEX_PUBLIC_POLICY_H
#define FKEX_PUBLIC_POLICY_H

#include <stddef.h>
#include <stdint.h>
#include "fkex/error.h"

#ifdef __cplusplus
extern "C" {
#endif

#define FKEX_POLICY_MAX_LEAVES 1024
#define FKEX_POLICY_MAX_DEPTH 64
#define FKEX_POLICY_MAX_TEXT 65535
#define FKEX_ATTR_MAX_LEN 255
#define FKEX_NUMERIC_BITS 64

typedef struct fkex_policy fkex_policy;   /* parsed, canonical AST */

typedef struct {
    size_t column;        /* 1-based byte column of the offending token;
                             len + 1 when the text ended too early */
    char message[128];    /* e.g. "expected ')'", no column, no newline */
} fkex_policy_error;

/* Parse text (not necessarily NUL-terminated). AND/OR chains are flattened,
 * so parse(print(p)) == p structurally. On failure *out is NULL and err
 * (which may be NULL) says where and what: FKEX_ERR_POLICY_SYNTAX, or
 * FKEX_ERR_POLICY_LIMIT for the limits above. */
FKEX_API fkex_err fkex_policy_parse(fkex_policy **out, const char *text, size_t len,
                           fkex_policy_error *err) FKEX_WUR;
FKEX_API void fkex_policy_free(fkex_policy *p);
/* Canonical text: lower-case keywords, single spaces, parentheses only where
 * needed (an OR inside an AND), ", " between threshold children. Returns a
 * malloc'd NUL-terminated string of at most FKEX_POLICY_MAX_TEXT bytes;
 * print(parse(print(p))) == print(p). */
FKEX_API fkex_err fkex_policy_print(char **out, const fkex_policy *p) FKEX_WUR;
FKEX_API int fkex_policy_equal(const fkex_policy *a, const fkex_policy *b);

/* Checks one user attribute as it may appear in a key: "ONE",
 * "dept:telematics" (the ATTRIBUTE rule), or a numeric "year=5" (NAME '='
 * NUMBER, canonical decimal). FKEX_ERR_ATTRIBUTE if malformed. */
FKEX_API fkex_err fkex_attr_check(const char *attr) FKEX_WUR;

/* ---- keys that expire --------------------------------------------------------
 * A key issued until the end of a month carries the numeric attribute
 * "expires=YYYYMM"; a file or a room for keys still valid in a month
 * requires "expires >= YYYYMM" besides its policy. */
#define FKEX_EXPIRES_ATTR "expires"
#define FKEX_EXPIRY_ATTR_LEN 14          /* "expires=YYYYMM" */
/* "YYYY-MM" (from 1970-01) as YYYYMM; FKEX_ERR_ARGUMENT if malformed. */
FKEX_API fkex_err fkex_month_parse(uint32_t *yyyymm, const char *text) FKEX_WUR;
/* The attribute of a key that expires at the end of month yyyymm. */
FKEX_API fkex_err fkex_expiry_attr(char out[FKEX_EXPIRY_ATTR_LEN + 1], uint32_t yyyymm) FKEX_WUR;
/* The month of an expiry attribute, or 0 if attr is not one. */
FKEX_API uint32_t fkex_expiry_of(const char *attr);
/* *out = policy and expires >= yyyymm, built on policy's tree (never its
 * text) and checked against the limits as fkex_policy_parse checks them
 * (err says why, as the parser's would). */
FKEX_API fkex_err fkex_policy_valid_at(fkex_policy **out, const fkex_policy *policy, uint32_t yyyymm,
                              fkex_policy_error *err) FKEX_WUR;

#ifdef __cplusplus
}
#endif

#endif
