/*
 * fuse-delay: a FUSE file system with one file, "disk", whose every read and
 * write takes a fixed service time before it is served from a backing file.
 * A loop device (direct I/O) over that file is a block device with added
 * latency: what the collector bench needs to measure tracing overhead where
 * a request takes >= 50 us on a machine whose kernel has no null_blk,
 * scsi_debug, device-mapper, NBD or ublk.
 *
 *   fuse-delay BACKING_FILE MOUNTPOINT SERVICE_US
 *
 * Runs in the foreground and single-threaded, so requests are served one at
 * a time like a device with one queue: time per request is SERVICE_US plus
 * FUSE's own cost. SIGINT or SIGTERM unmounts and exits. Built by
 * bench/collector.bench.ts with `cc fuse-delay.c $(pkg-config --cflags --libs fuse3)`.
 */
#define FUSE_USE_VERSION 31
#include <errno.h>
#include <fcntl.h>
#include <fuse.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

static const char *const kFile = "/disk";
static int backing_fd = -1;
static off_t backing_size;
static struct timespec service_time;

/* The added latency: a sleep, not a spin, so the device costs no CPU on a shared machine. */
static void serve_delay(void) {
  struct timespec left = service_time;
  while (clock_nanosleep(CLOCK_MONOTONIC, 0, &left, &left) == EINTR) {
  }
}

static int fd_getattr(const char *path, struct stat *st, struct fuse_file_info *fi) {
  (void)fi;
  memset(st, 0, sizeof *st);
  if (strcmp(path, "/") == 0) {
    st->st_mode = S_IFDIR | 0755;
    st->st_nlink = 2;
    return 0;
  }
  if (strcmp(path, kFile) != 0) return -ENOENT;
  st->st_mode = S_IFREG | 0600;
  st->st_nlink = 1;
  st->st_size = backing_size;
  st->st_blksize = 4096;
  st->st_blocks = backing_size / 512;
  return 0;
}

static int fd_readdir(const char *path, void *buf, fuse_fill_dir_t fill, off_t off, struct fuse_file_info *fi, enum fuse_readdir_flags flags) {
  (void)off;
  (void)fi;
  (void)flags;
  if (strcmp(path, "/") != 0) return -ENOENT;
  fill(buf, ".", NULL, 0, 0);
  fill(buf, "..", NULL, 0, 0);
  fill(buf, kFile + 1, NULL, 0, 0);
  return 0;
}

static int fd_open(const char *path, struct fuse_file_info *fi) {
  (void)fi;
  return strcmp(path, kFile) == 0 ? 0 : -ENOENT;
}

static int fd_read(const char *path, char *buf, size_t size, off_t off, struct fuse_file_info *fi) {
  (void)path;
  (void)fi;
  serve_delay();
  ssize_t n = pread(backing_fd, buf, size, off);
  return n < 0 ? -errno : (int)n;
}

static int fd_write(const char *path, const char *buf, size_t size, off_t off, struct fuse_file_info *fi) {
  (void)path;
  (void)fi;
  if (off >= backing_size) return -ENOSPC;
  if ((off_t)size > backing_size - off) size = (size_t)(backing_size - off);
  serve_delay();
  ssize_t n = pwrite(backing_fd, buf, size, off);
  return n < 0 ? -errno : (int)n;
}

static int fd_fsync(const char *path, int datasync, struct fuse_file_info *fi) {
  (void)path;
  (void)datasync;
  (void)fi;
  return 0;
}

static const struct fuse_operations ops = {
    .getattr = fd_getattr,
    .readdir = fd_readdir,
    .open = fd_open,
    .read = fd_read,
    .write = fd_write,
    .fsync = fd_fsync,
};

int main(int argc, char **argv) {
  if (argc != 4) {
    fprintf(stderr, "usage: %s BACKING_FILE MOUNTPOINT SERVICE_US\n", argv[0]);
    return 2;
  }
  char *end;
  long us = strtol(argv[3], &end, 10);
  if (*end || us < 0 || us > 1000000) {
    fprintf(stderr, "fuse-delay: SERVICE_US must be 0..1000000, got '%s'\n", argv[3]);
    return 2;
  }
  service_time.tv_sec = us / 1000000;
  service_time.tv_nsec = (us % 1000000) * 1000;
  backing_fd = open(argv[1], O_RDWR);
  struct stat st;
  if (backing_fd < 0 || fstat(backing_fd, &st) != 0) {
    fprintf(stderr, "fuse-delay: %s: %s\n", argv[1], strerror(errno));
    return 1;
  }
  backing_size = st.st_size;
  prctl(PR_SET_TIMERSLACK, 1UL); /* sleeps end on time, not up to 50 us late */
  char *fargs[] = {argv[0], "-f", "-s", "-o", "fsname=fuse-delay,default_permissions", argv[2], NULL};
  return fuse_main(6, fargs, &ops, NULL);
}
