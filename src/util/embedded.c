#include "util/embedded.h"

#include <string.h>

const gpf_embedded_file *gpf_embedded_find(const char *path)
{
    for (const gpf_embedded_file *f = gpf_embedded_files; f->path; f++)
        if (strcmp(f->path, path) == 0)
            return f;
    return NULL;
}
