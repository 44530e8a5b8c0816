/* Report files: mkdir -p and atomic writes (temp file in the same directory,
 * fsync, rename, fsync of the directory), so a reader never sees half a file and
 * a crash leaves either the old or the new version. */
#include "agg.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

int sgs_agg_mkdirs(const char *dir, char *errstr, size_t errstr_size)
{
    char *path = strdup(dir);
    size_t len;

    if (!path) {
        snprintf(errstr, errstr_size, "out of memory");
        return -1;
    }
    len = strlen(path);
    while (len > 1 && path[len - 1] == '/')
        path[--len] = '\0';
    for (char *p = path + 1;; p++) {
        char c = *p;

        if (c != '/' && c != '\0')
            continue;
        *p = '\0';
        if (mkdir(path, 0777) != 0 && errno != EEXIST) {
            snprintf(errstr, errstr_size, "%s: cannot create directory: %s", path, strerror(errno));
            free(path);
            return -1;
        }
        *p = c;
        if (c == '\0')
            break;
    }
    {
        struct stat st;

        if (stat(path, &st) != 0 || !S_ISDIR(st.st_mode)) {
            snprintf(errstr, errstr_size, "%s: not a directory", path);
            free(path);
            return -1;
        }
    }
    free(path);
    return 0;
}

/* write_data's argument: the bytes to write. */
struct data_arg {
    const char *data;
    size_t len;
};

/* The fill of sgs_agg_write_file: the bytes into the (empty) temporary file. */
static int write_data(const char *path, void *arg, char *errstr, size_t errstr_size)
{
    const struct data_arg *d = arg;
    size_t off = 0;
    int fd = open(path, O_WRONLY | O_TRUNC);

    if (fd < 0) {
        snprintf(errstr, errstr_size, "%s: open: %s", path, strerror(errno));
        return -1;
    }
    while (off < d->len) {
        ssize_t w = write(fd, d->data + off, d->len - off);

        if (w < 0 && errno == EINTR)
            continue;
        if (w < 0) {
            snprintf(errstr, errstr_size, "%s: write: %s", path, strerror(errno));
            close(fd);
            return -1;
        }
        off += (size_t)w;
    }
    if (close(fd) != 0) {
        snprintf(errstr, errstr_size, "%s: close: %s", path, strerror(errno));
        return -1;
    }
    return 0;
}

int sgs_agg_write_file(const char *dir, const char *name, const char *data, size_t len,
                       char *errstr, size_t errstr_size)
{
    struct data_arg d = {data, len};
    return sgs_agg_write_file_by(dir, name, write_data, &d, errstr, errstr_size);
}

int sgs_agg_write_file_by(const char *dir, const char *name, sgs_agg_file_fill fill, void *arg,
                          char *errstr, size_t errstr_size)
{
    size_t n = strlen(dir) + strlen(name) + 32;
    char *tmp = malloc(n), *final = malloc(n);
    int fd = -1, dfd, rc = -1;

    if (!tmp || !final) {
        snprintf(errstr, errstr_size, "out of memory");
        goto out;
    }
    snprintf(final, n, "%s/%s", dir, name);
    snprintf(tmp, n, "%s/.%s.XXXXXX", dir, name);
    fd = mkstemp(tmp);
    if (fd < 0) {
        snprintf(errstr, errstr_size, "%s: cannot create a temporary file: %s", dir,
                 strerror(errno));
        goto out;
    }
    if (fchmod(fd, 0644) != 0) {
        snprintf(errstr, errstr_size, "%s: chmod: %s", tmp, strerror(errno));
        goto fail;
    }
    close(fd);
    fd = -1;
    /* The library writes (and closes) the file at the path; the name is ours
     * alone (mkstemp), so nobody else writes it meanwhile. */
    if (fill(tmp, arg, errstr, errstr_size) != 0)
        goto fail;
    fd = open(tmp, O_RDONLY);
    if (fd < 0 || fsync(fd) != 0) {
        snprintf(errstr, errstr_size, "%s: fsync: %s", tmp, strerror(errno));
        goto fail;
    }
    close(fd);
    fd = -1;
    if (rename(tmp, final) != 0) {
        snprintf(errstr, errstr_size, "%s: rename: %s", final, strerror(errno));
        goto fail;
    }
    dfd = open(dir, O_RDONLY | O_DIRECTORY);
    if (dfd >= 0) {
        (void)fsync(dfd);
        close(dfd);
    }
    rc = 0;
    goto out;
fail:
    if (fd >= 0)
        close(fd);
    unlink(tmp);
out:
    free(tmp);
    free(final);
    return rc;
}
