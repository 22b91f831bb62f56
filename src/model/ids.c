/* Ids and names (model/ids.h). */
#include "model/ids.h"

#include <string.h>

int gpf_name_valid(const char *s)
{
    size_t n = s ? strnlen(s, GPF_ID_MAX) : 0;
    if (n == 0 || n >= GPF_ID_MAX)
        return 0;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        int alnum = (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
        if (!alnum && (i == 0 || (c != '.' && c != '_' && c != '-')))
            return 0;
    }
    return 1;
}
