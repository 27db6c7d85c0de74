/**
 * What the kernel gives an I/O scheduler's tunables when a queue switches to it: the scheduler's data is made
 * afresh, so a switch away and back (A→B→A) leaves A's tunables at these values whatever they were before. As sysfs
 * shows them (the jiffies ones in milliseconds, the same at any HZ), read on Linux 6.18 after a switch.
 * async_depth is not a constant: mq-deadline derives it from nr_requests, which the switch resets to a value of the
 * kernel's too. bfq, not offered on the kernel measured, is left out: its tunables must show a recorded value.
 */
export const IOSCHED_SWITCH_DEFAULTS: Readonly<Record<string, Readonly<Record<string, string | 'from nr_requests'>>>> = {
  'mq-deadline': {
    read_expire: '500',
    write_expire: '5000',
    writes_starved: '2',
    front_merges: '1',
    fifo_batch: '16',
    prio_aging_expire: '10000',
    async_depth: 'from nr_requests',
  },
  kyber: { read_lat_nsec: '2000000', write_lat_nsec: '10000000' },
};
