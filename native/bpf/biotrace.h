/* Record layout shared by biotrace.bpf.c (producer) and the loader in
 * native/src/collector (consumer). Fixed-size fields only, so the JS side can
 * decode a batch of records with a DataView. Keep in sync with
 * src/collector/ebpf.ts (RECORD_BYTES and field offsets). */
#ifndef SSDTUNE_BIOTRACE_H
#define SSDTUNE_BIOTRACE_H

/* ssdtune Op flags (src/trace/model.ts), computed in the kernel so that user
 * space never needs the kernel's req_flag_bits numbering. */
#define BT_OP_READ (1u << 0)
#define BT_OP_WRITE (1u << 1)
#define BT_OP_DISCARD (1u << 2)
#define BT_OP_FLUSH (1u << 3)
#define BT_OP_SYNC (1u << 4)
#define BT_OP_META (1u << 5)
#define BT_OP_READAHEAD (1u << 6)
#define BT_OP_FUA (1u << 7)

/* biorec.flags */
#define BT_F_INSERT_SEEN (1u << 0) /* queue_ns is the insert time, not the issue time */
#define BT_F_ISSUE_SEEN (1u << 1)  /* issue_ns is valid */

/* indices of the `counters` per-CPU array */
#define BT_CNT_RINGBUF_FULL 0 /* records dropped: ring buffer full */
#define BT_CNT_START_FULL 1   /* requests not tracked: start map full */
#define BT_CNT_COMPLETED 2    /* records submitted to the ring buffer */
#define BT_CNT_UNTRACKED 3    /* completions of the device's requests with no tracking entry */
#define BT_CNT_ISSUES 4       /* issues of the device's requests seen */
#define BT_CNT_COMPLETES 5    /* completions of the device's requests seen */
#define BT_CNT_ORPHANED 6     /* issued requests whose completion the program never ran for (entry found stale at reuse) */
#define BT_CNT_MAX 8

struct biorec {
  unsigned long long queue_ns;    /* insert (or issue) time, CLOCK_MONOTONIC */
  unsigned long long issue_ns;    /* dispatch to the driver */
  unsigned long long complete_ns; /* completion */
  unsigned long long sector;      /* start sector (512 B), relative to the whole disk */
  unsigned int bytes;             /* request size at issue */
  unsigned int op;                /* BT_OP_* */
  unsigned int dev;               /* major << 20 | minor of the disk */
  unsigned int pid;               /* task that inserted/issued the request */
  int error;                      /* blk_status_t at completion */
  unsigned int flags;             /* BT_F_* */
  char comm[16];
}; /* 72 bytes */

/* An in-flight request's entry in the `slots` table or the `inflight` hash.
 * Shared so that user space can count what is still in flight at stop. */
struct bt_inflight {
  unsigned long long key; /* struct request * owning a slot of `slots`; 0 = free (unused in `inflight`) */
  unsigned long long gen; /* rq->start_time_ns: tells a reused request struct from a stale entry */
  unsigned long long queue_ns;
  unsigned long long issue_ns;
  unsigned long long sector; /* as dispatched: merges after insert can change it */
  unsigned int bytes;
  unsigned int op;
  unsigned int pid;
  unsigned int flags; /* BT_F_* */
  char comm[16];
}; /* 64 bytes */

#endif
