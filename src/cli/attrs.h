/*
 * cli/attrs.h: attribute lists ("ONE TWO, dept:x year=5") and months
 * ("2026-12", kept in keys as the numeric attribute expires=202612).
 */
#ifndef FKEX_CLI_ATTRS_H
#define FKEX_CLI_ATTRS_H

#define CLI_EXPIRES_ATTR "expires"

/* Splits on spaces and commas. */
int cli_split_attrs(char ***out, size_t *n, const char *text);
void cli_free_attrs(char **list, size_t n);
/* "YYYY-MM" to YYYYMM; -1 if malformed. */
int cli_parse_month(unsigned *yyyymm, const char *text);

#endif
