/*
 * cli/attrs.c: attribute lists as people type them.
 */
#include <ctype.h>
#include <stdlib.h>
#include "cli/cli.h"
#include "cli/attrs.h"

int cli_split_attrs(char ***out, size_t *n, const char *text)
{
    char **list = NULL;
    size_t count = 0;
    const char *p = text;
    *out = NULL;
    *n = 0;
    for (;;) {
        while (*p && (isspace((unsigned char)*p) || *p == ','))
            p++;
        if (!*p)
            break;
        const char *start = p;
        while (*p && !isspace((unsigned char)*p) && *p != ',')
            p++;
        char **bigger = realloc(list, (count + 1) * sizeof *list);
        if (!bigger)
            goto fail;
        list = bigger;
        if (!(list[count] = strndup(start, (size_t)(p - start))))
            goto fail;
        count++;
    }
    *out = list;
    *n = count;
    return 0;
fail:
    cli_free_attrs(list, count);
    cli_error("out of memory");
    return -1;
}

void cli_free_attrs(char **list, size_t n)
{
    for (size_t i = 0; i < n; i++)
        free(list[i]);
    free(list);
}
