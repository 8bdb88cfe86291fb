/*
 * cli/attrs.h: attribute lists as people type them ("ONE TWO, dept:x year=5").
 */
#ifndef FKEX_CLI_ATTRS_H
#define FKEX_CLI_ATTRS_H

/* Splits on spaces and commas. */
int cli_split_attrs(char ***out, size_t *n, const char *text);
void cli_free_attrs(char **list, size_t n);

#endif
