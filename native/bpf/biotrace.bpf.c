// SPDX-License-Identifier: GPL-2.0
/* Block request tracer for `ssdtune collect --backend ebpf`.
 *
 * Written in the style of libbpf-tools' biosnoop: BTF-typed tracepoints
 * (tp_btf) on block_rq_insert/issue/complete, the request pointer as the key
 * of an in-flight table, latency worked out here in the kernel, and one
 * fixed-size record per completed request pushed through a BPF ring buffer.
 * Requests of other devices are dropped before they touch any map, so a busy
 * host pays only a few loads per foreign request.
 *
 * GPL because tp_btf programs and bpf_ringbuf need GPL-only helpers. */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_core_read.h>
#include <bpf/bpf_tracing.h>
#include "biotrace.h"

char LICENSE[] SEC("license") = "GPL";

/* Set by the loader through the skeleton before load (read-only data: the
 * verifier prunes the branches that a zero filter makes dead). */
const volatile __u32 target_dev = 0; /* 0 = every device */
const volatile __u64 sector_lo = 0;  /* partition filter: [lo, hi) */
const volatile __u64 sector_hi = ~0ULL;
/* Wake the reader only when this much is waiting: a wakeup per record would
 * cost more than the record at high IOPS; the reader also polls on a timer. */
const volatile __u64 wakeup_bytes = 256 << 10;

/* Portability, the libbpf-tools way. What CO-RE relocations can tell is
 * decided here at load time (field and enum existence); what clang 14 cannot
 * ask the kernel's BTF (a tracepoint's prototype, bpf_core_type_matches is
 * clang 15+) the loader reads from /sys/kernel/btf/vmlinux and sets below.
 * Minimum kernel: 5.8 (BPF ring buffer; tp_btf needs 5.5), with BTF. */

/* Before 5.11 (commit a54895fa057c) block_rq_insert and block_rq_issue were
 * TP_PROTO(struct request_queue *q, struct request *rq): the request is the
 * second argument there. */
const volatile bool rq_tp_queue_arg = false;
/* BPF_ATOMIC compare-and-exchange arrived in 5.12: without it the loader
 * turns the in-flight slot table off (its code is then dead for the
 * verifier) and the hash map serves every request. */
const volatile bool use_slot_table = true;

/* The disk of a request: rq->rq_disk until 5.17 (commit f3fa33acca9f),
 * rq->q->disk since 5.15 (commit d152c682f03c). */
struct request_queue___x {
  struct gendisk *disk;
} __attribute__((preserve_access_index));
struct request___x {
  struct request_queue___x *q;
  struct gendisk *rq_disk;
} __attribute__((preserve_access_index));

/* enum req_opf was renamed enum req_op in 6.0 (commit ff07a02e9e8e); the
 * values never changed, so the numbers are the fallback of last resort. */
enum req_op___new { REQ_OP_READ___new, REQ_OP_WRITE___new, REQ_OP_FLUSH___new, REQ_OP_DISCARD___new, REQ_OP_SECURE_ERASE___new, REQ_OP_WRITE_ZEROES___new };
enum req_opf___old { REQ_OP_READ___old, REQ_OP_WRITE___old, REQ_OP_FLUSH___old, REQ_OP_DISCARD___old, REQ_OP_SECURE_ERASE___old, REQ_OP_WRITE_ZEROES___old };

/* In-flight requests live in a direct-mapped table indexed by a hash of the
 * request pointer: an array element is found without the hash map's bucket
 * walk, lock and element allocation, which were most of the per-request cost.
 * blk-mq preallocates its requests, so a device's in-flight requests come
 * from a small fixed pool of pointers and rarely share a slot; a slot is
 * claimed with a compare-and-swap, and a request whose slot another live
 * request holds goes to the `inflight` hash instead. Stale slots (a request
 * freed unseen) are recognised by key and generation and reused. */
const volatile __u32 slot_mask = (1 << 16) - 1; /* slots - 1, a power of two minus one; set with the map size by the loader */
struct {
  __uint(type, BPF_MAP_TYPE_ARRAY);
  __uint(max_entries, 1 << 16);
  __type(key, __u32);
  __type(value, struct bt_inflight);
} slots SEC(".maps");

/* The collision fallback: a plain hash (an LRU hash costs more per update).
 * Entries of requests merged into another are dropped at block_rq_merge; any
 * other stale entry is recognised by its generation and, should the map ever
 * fill, the requests not tracked are counted (BT_CNT_START_FULL), never
 * silently dropped. */
struct {
  __uint(type, BPF_MAP_TYPE_HASH);
  __uint(max_entries, 16384);
  __type(key, __u64); /* struct request * */
  __type(value, struct bt_inflight);
} inflight SEC(".maps");

struct {
  __uint(type, BPF_MAP_TYPE_RINGBUF);
  __uint(max_entries, 8 << 20); /* the loader may resize before load */
} events SEC(".maps");

struct {
  __uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
  __uint(max_entries, BT_CNT_MAX);
  __type(key, __u32);
  __type(value, __u64);
} counters SEC(".maps");

static __always_inline void count(__u32 idx) {
  __u64 *v = bpf_map_lookup_elem(&counters, &idx);
  if (v) *v += 1;
}

/* tp_btf arguments are BTF-typed pointers: plain loads (relocated by CO-RE
 * through vmlinux.h's preserve_access_index) instead of bpf_probe_read calls,
 * which cost several times more per field. */
static __always_inline __u32 rq_dev(struct request *rq) {
  struct request___x *r = (void *)rq;
  struct gendisk *disk;
  if (bpf_core_field_exists(r->rq_disk))
    disk = r->rq_disk;
  else
    disk = r->q->disk;
  if (!disk) return 0;
  return ((__u32)disk->major << 20) | (__u32)disk->first_minor;
}

static __always_inline bool wanted(struct request *rq) {
  if (target_dev && rq_dev(rq) != target_dev) return false;
  if (sector_lo != 0 || sector_hi != ~0ULL) {
    __u64 s = rq->__sector;
    if (s < sector_lo || s >= sector_hi) return false;
  }
  return true;
}

/* The kernel's number for a request op, whichever name its enum has. */
#define REQ_OP_VALUE(name, fallback)                                                                                      \
  (bpf_core_enum_value_exists(enum req_op___new, name##___new)    ? bpf_core_enum_value(enum req_op___new, name##___new)  \
   : bpf_core_enum_value_exists(enum req_opf___old, name##___old) ? bpf_core_enum_value(enum req_opf___old, name##___old) \
                                                                  : (fallback))

/* Translate cmd_flags to ssdtune Op flags with CO-RE enum values, so the
 * numbering of req_op/req_flag_bits on the running kernel is used. */
static __always_inline __u32 rq_op(struct request *rq) {
  __u32 f = rq->cmd_flags;
  __u32 opv = f & ((1u << 8) - 1); /* REQ_OP_BITS = 8 since 4.20 */
  __u32 op = 0;
  if (opv == REQ_OP_VALUE(REQ_OP_READ, 0))
    op |= BT_OP_READ;
  else if (opv == REQ_OP_VALUE(REQ_OP_WRITE, 1))
    op |= BT_OP_WRITE;
  else if (opv == REQ_OP_VALUE(REQ_OP_FLUSH, 2))
    op |= BT_OP_FLUSH;
  else if (opv == REQ_OP_VALUE(REQ_OP_DISCARD, 3) || opv == REQ_OP_VALUE(REQ_OP_SECURE_ERASE, 5))
    op |= BT_OP_DISCARD;
  else if (opv == REQ_OP_VALUE(REQ_OP_WRITE_ZEROES, 9))
    op |= BT_OP_WRITE;
  if (f & (1u << bpf_core_enum_value(enum req_flag_bits, __REQ_SYNC))) op |= BT_OP_SYNC;
  if (f & (1u << bpf_core_enum_value(enum req_flag_bits, __REQ_META))) op |= BT_OP_META;
  if (f & (1u << bpf_core_enum_value(enum req_flag_bits, __REQ_RAHEAD))) op |= BT_OP_READAHEAD;
  if (f & (1u << bpf_core_enum_value(enum req_flag_bits, __REQ_FUA))) op |= BT_OP_FUA;
  if (f & (1u << bpf_core_enum_value(enum req_flag_bits, __REQ_PREFLUSH))) op |= BT_OP_FLUSH;
  return op;
}

/* The request's address as a plain number. The verifier forbids arithmetic on
 * a trusted kernel pointer and partial reads of a spilled one; copying the
 * spilled pointer with bpf_probe_read_kernel yields a scalar (one cheap helper
 * call, far less than the hash map operations it replaces). */
static __always_inline __u64 rq_key(struct request *rq) {
  __u64 p = (__u64)rq;
  __u64 k = 0;
  bpf_probe_read_kernel(&k, sizeof(k), &p);
  return k;
}

static __always_inline struct bt_inflight *slot_of(__u64 key) {
  if (!use_slot_table) return NULL;
  __u32 idx = (__u32)((key * 0x9E3779B97F4A7C15ULL) >> 32) & slot_mask; /* Fibonacci hashing */
  return bpf_map_lookup_elem(&slots, &idx);
}

/* The entry tracking `key`, or NULL. */
static __always_inline struct bt_inflight *find(__u64 key) {
  struct bt_inflight *s = slot_of(key);
  if (s && s->key == key) return s;
  return bpf_map_lookup_elem(&inflight, &key);
}

/* Stop tracking `key` (completed or merged away). */
static __always_inline void forget(__u64 key, struct bt_inflight *s) {
  if (s->key == key)
    s->key = 0; /* a slot; hash entries keep key 0 */
  else
    bpf_map_delete_elem(&inflight, &key);
}

/* An entry for `key`: its free slot if the compare-and-swap wins it, else a
 * new hash entry (NULL, counted, when the hash is full too). The caller sets
 * every field but `key` (a slot's key must never pass through 0 while held). */
static __always_inline struct bt_inflight *claim(__u64 key) {
  struct bt_inflight *s = slot_of(key);
  if (s && use_slot_table && __sync_val_compare_and_swap(&s->key, 0, key) == 0) return s;
  struct bt_inflight zero = {};
  if (bpf_map_update_elem(&inflight, &key, &zero, BPF_ANY) != 0) {
    count(BT_CNT_START_FULL);
    return NULL;
  }
  return bpf_map_lookup_elem(&inflight, &key);
}

static __always_inline void remember(struct request *rq, bool insert) {
  __u64 key = rq_key(rq);
  __u64 now = bpf_ktime_get_ns();
  __u64 gen = rq->start_time_ns;
  struct bt_inflight *s = find(key);
  if (s && !insert && s->gen == gen) {
    /* issue after insert: keep the queue time and the submitter's pid,
     * take the geometry as dispatched (merges may have grown the request) */
    s->issue_ns = now;
    s->flags |= BT_F_ISSUE_SEEN;
    s->sector = rq->__sector;
    s->bytes = rq->__data_len;
    s->op = rq_op(rq);
    return;
  }
  /* A new lifetime: insert, or issue without insert (no scheduler), or a
   * stale entry of a reused request struct. A stale entry that was issued
   * means a completion this program never saw: the tracepoint fired (tracefs
   * records it) but the kernel did not run bt_complete. Two causes are known:
   * the BPF recursion guard (counted by the kernel: the loader reports the
   * program's recursion_misses), and kernels that run no BPF program while
   * the current task belongs to PID 1 (bpf_prog_aux.init_owned; the VM
   * kernels ssdtune is developed on), where a completion softirq or interrupt
   * landing on PID 1 passes silently. No other BPF hook sees it either: every
   * entry path (raw tracepoint, trampoline, perf tracepoint) has that check.
   * It is counted, so the loss is reported with its cause, never silent. */
  if (s && s->gen != gen && (s->flags & BT_F_ISSUE_SEEN)) count(BT_CNT_ORPHANED);
  if (!s) s = claim(key);
  if (!s) return;
  s->gen = gen;
  s->queue_ns = now;
  s->sector = rq->__sector;
  s->bytes = rq->__data_len;
  s->op = rq_op(rq);
  if (insert) {
    s->issue_ns = 0;
    s->flags = BT_F_INSERT_SEEN;
  } else {
    s->issue_ns = now;
    s->flags = BT_F_ISSUE_SEEN;
  }
  s->pid = bpf_get_current_pid_tgid() >> 32;
  bpf_get_current_comm(&s->comm, sizeof(s->comm));
}

/* The request argument of block_rq_insert/issue (see rq_tp_queue_arg). */
static __always_inline struct request *tp_rq(unsigned long long *ctx) { return rq_tp_queue_arg ? (struct request *)ctx[1] : (struct request *)ctx[0]; }

SEC("tp_btf/block_rq_insert")
int BPF_PROG(bt_insert) {
  struct request *rq = tp_rq(ctx);
  if (wanted(rq)) remember(rq, true);
  return 0;
}

SEC("tp_btf/block_rq_issue")
int BPF_PROG(bt_issue) {
  struct request *rq = tp_rq(ctx);
  if (wanted(rq)) {
    count(BT_CNT_ISSUES);
    remember(rq, false);
  }
  return 0;
}

/* `rq` is being merged into another request and freed without completing.
 * Older kernels lack this tracepoint: the loader leaves the program out where
 * vmlinux BTF has no btf_trace_block_rq_merge, and a merged request's stale
 * entry is then recognised by its generation when the struct is reused. */
SEC("tp_btf/block_rq_merge")
int BPF_PROG(bt_merge, struct request *rq) {
  __u64 key = rq_key(rq);
  struct bt_inflight *s = find(key);
  if (s) forget(key, s);
  return 0;
}

SEC("tp_btf/block_rq_complete")
int BPF_PROG(bt_complete, struct request *rq, int error, unsigned int nr_bytes) {
  if (!wanted(rq)) return 0;
  count(BT_CNT_COMPLETES);
  __u64 key = rq_key(rq);
  struct bt_inflight *s = find(key);
  if (!s) { /* issued before the capture started */
    count(BT_CNT_UNTRACKED);
    return 0;
  }
  struct biorec *r = bpf_ringbuf_reserve(&events, sizeof(*r), 0);
  if (!r) {
    count(BT_CNT_RINGBUF_FULL);
    forget(key, s);
    return 0;
  }
  r->queue_ns = s->queue_ns;
  r->issue_ns = s->issue_ns;
  r->complete_ns = bpf_ktime_get_ns();
  /* One record per request, at its first (usually only) completion; a
   * request completed in parts reports its size as dispatched. */
  r->sector = s->sector;
  r->bytes = s->bytes;
  r->op = s->op;
  r->dev = rq_dev(rq);
  r->pid = s->pid;
  r->error = error;
  r->flags = s->flags;
  __builtin_memcpy(r->comm, s->comm, sizeof(r->comm));
  forget(key, s);
  __u64 waiting = bpf_ringbuf_query(&events, BPF_RB_AVAIL_DATA);
  bpf_ringbuf_submit(r, waiting >= wakeup_bytes ? BPF_RB_FORCE_WAKEUP : BPF_RB_NO_WAKEUP);
  count(BT_CNT_COMPLETED);
  return 0;
}
