/* SPDX-License-Identifier: MIT */
/* Signals for loops. One process-wide handler sets a bit in every loop that asked for the signal
 * and wakes it, nothing more (atomics and write(2) are async-signal-safe); the loop runs the
 * callbacks in its next pass, on its own thread. */
#include "loop_internal.h"

#include <sched.h>
#include <string.h>

#define LOOPS_MAX 64 /* loops watching signals at once */

static _Atomic(csock_loop *) loops[LOOPS_MAX];
static _Atomic int handlers_running; /* so that a loop is freed only once no handler reads it */
static pthread_mutex_t registry = PTHREAD_MUTEX_INITIALIZER;
static int wanted_by[CSOCK__SIGNALS];             /* loops that want each signal */
static struct sigaction previous[CSOCK__SIGNALS]; /* restored when none does any more */

static unsigned long long bit(int signo)
{
    return 1ULL << (signo - 1);
}

static void on_signal(int signo)
{
    atomic_fetch_add(&handlers_running, 1);
    for (int i = 0; i < LOOPS_MAX; i++) {
        csock_loop *loop = atomic_load(&loops[i]);
        if (loop && (atomic_load(&loop->signals_wanted) & bit(signo))) {
            atomic_fetch_or(&loop->signals_caught, bit(signo));
            csock_loop_wakeup(loop);
        }
    }
    atomic_fetch_sub(&handlers_running, 1);
}

int csock_loop_on_signal(csock_loop *loop, int signo, csock_loop_cb cb, void *data)
{
    if (!loop || signo < 1 || signo >= CSOCK__SIGNALS || signo == SIGKILL || signo == SIGSTOP)
        return csock__failf(CSOCK_EINVAL, "loop: signal %d: %s", signo,
                            !loop ? "NULL loop" : "cannot be caught");
    int rc = 0;
    pthread_mutex_lock(&registry);
    if (loop->signal_slot < 0) {
        for (int i = 0; i < LOOPS_MAX && loop->signal_slot < 0; i++)
            if (!atomic_load(&loops[i])) {
                loop->signal_slot = i;
                atomic_store(&loops[i], loop);
            }
        if (loop->signal_slot < 0)
            rc = csock__failf(CSOCK_ENOSPC, "loop: signal %d: more than %d loops watch signals",
                              signo, LOOPS_MAX);
    }
    if (rc == 0) {
        loop->signal_cb[signo] = cb;
        loop->signal_data[signo] = data;
        if (!(atomic_load(&loop->signals_wanted) & bit(signo)) && wanted_by[signo]++ == 0) {
            struct sigaction sa;
            memset(&sa, 0, sizeof sa);
            sa.sa_handler = on_signal;
            sa.sa_flags = SA_RESTART;
            sigfillset(&sa.sa_mask);
            sigaction(signo, &sa, &previous[signo]);
        }
        atomic_fetch_or(&loop->signals_wanted, bit(signo));
    }
    pthread_mutex_unlock(&registry);
    return rc;
}

int csock_loop_last_signal(const csock_loop *loop)
{
    return loop ? loop->last_signal : 0;
}

int csock__run_signals(csock_loop *loop)
{
    unsigned long long caught = atomic_exchange(&loop->signals_caught, 0);
    int ran = 0;
    for (int signo = 1; caught && signo < CSOCK__SIGNALS; signo++) {
        if (!(caught & bit(signo))) continue;
        caught &= ~bit(signo);
        loop->last_signal = signo;
        if (loop->signal_cb[signo])
            loop->signal_cb[signo](loop, loop->signal_data[signo]);
        else
            csock_loop_stop(loop);
        ran++;
    }
    return ran;
}

void csock__drop_signals(csock_loop *loop)
{
    if (loop->signal_slot < 0) return;
    pthread_mutex_lock(&registry);
    unsigned long long wanted = atomic_exchange(&loop->signals_wanted, 0);
    for (int signo = 1; signo < CSOCK__SIGNALS; signo++)
        if ((wanted & bit(signo)) && --wanted_by[signo] == 0)
            sigaction(signo, &previous[signo], NULL);
    atomic_store(&loops[loop->signal_slot], NULL);
    loop->signal_slot = -1;
    pthread_mutex_unlock(&registry);
    /* A handler that read the table before the loop left it may still be waking it. */
    while (atomic_load(&handlers_running) > 0)
        sched_yield();
}
