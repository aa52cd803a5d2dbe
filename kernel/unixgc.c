// SPDX-License-Identifier: GPL-2.0
/*
 * Descriptor cycles through unix host sockets.
 *
 * A graft socket whose host socket is AF_UNIX can be passed over SCM_RIGHTS
 * into that very host socket's receive queue; once every descriptor of it
 * is closed, the only reference left to its file is the one in flight, held
 * by the queue it owns.  The unix garbage collector only follows unix
 * sockets' files, so it never breaks this cycle: the graft socket, its host
 * socket and the module would stay forever.
 *
 * So af_graft collects these itself.  A unix host socket's sk_data_ready
 * notes when descriptors arrive and schedules a check; the check counts the
 * references to the graft socket's own file in its host's queue and, when
 * they are all the references there are (nothing else can ever read that
 * queue), drops the messages carrying them, which releases the graft socket
 * and with it the host socket.  While such references stay in the queue,
 * the check runs again every GRAFT_GC_PERIOD.
 */
#include <linux/file.h>
#include <linux/fs.h>
#include <linux/mm.h>
#include <linux/skbuff.h>
#include <linux/workqueue.h>
#include <net/af_unix.h>
#include <net/scm.h>
#include <net/sock.h>

#include "compat.h"
#include "socket.h"
#include "unixgc.h"

#define GRAFT_GC_DELAY (HZ / 10)
#define GRAFT_GC_PERIOD (HZ / 2)

#ifdef GRAFT_UNIX_SKB_FP	/* compat.h: where a unix message's files are */

/*
 * The files @skb carries, or NULL.  A value no scm_fp_list can have means
 * the control block is not laid out as compat.h believes: then nothing is
 * read from any of them.
 */
static struct scm_fp_list *graft_skb_fp(struct sk_buff *skb)
{
	static bool broken;
	struct scm_fp_list *fp = GRAFT_UNIX_SKB_FP(skb);

	if (!fp || READ_ONCE(broken))
		return NULL;
	if (!virt_addr_valid(fp) || fp->count < 0 || fp->count > SCM_MAX_FD) {
		WRITE_ONCE(broken, true);
		pr_warn("unix message control block not as expected: descriptor cycles through unix host sockets are not collected\n");
		return NULL;
	}
	return fp;
}

static void graft_unix_data_ready(struct sock *hsk)
{
	void (*ready)(struct sock *sk) = NULL;
	struct graft_sock *gsk;

	read_lock_bh(&hsk->sk_callback_lock);
	gsk = hsk->sk_user_data;
	if (gsk) {
		ready = gsk->host_data_ready;
		if (atomic_read(&unix_sk(hsk)->scm_stat.nr_fds))
			queue_delayed_work(system_wq, &gsk->gc_work,
					   GRAFT_GC_DELAY);
	}
	read_unlock_bh(&hsk->sk_callback_lock);
	if (ready)
		ready(hsk);
}

/*
 * Move to @dead the messages of @hsk's queue that carry @file, if they hold
 * every reference to it; return how many references they hold.  Called
 * with the unix socket's iolock, which keeps readers off the queue.
 */
static int graft_unixgc_scan(struct sock *hsk, struct file *file,
			     struct sk_buff_head *dead)
{
	struct sk_buff_head *q = &hsk->sk_receive_queue;
	struct sk_buff *skb, *tmp;
	unsigned long flags;
	int i, self = 0;

	spin_lock_irqsave(&q->lock, flags);
	skb_queue_walk(q, skb) {
		struct scm_fp_list *fp = graft_skb_fp(skb);

		for (i = 0; fp && i < fp->count; i++)
			self += fp->fp[i] == file;
	}
	if (self && file_count(file) == self) {
		skb_queue_walk_safe(q, skb, tmp) {
			struct scm_fp_list *fp = graft_skb_fp(skb);

			for (i = 0; fp && i < fp->count; i++) {
				if (fp->fp[i] == file) {
					__skb_unlink(skb, q);
					__skb_queue_tail(dead, skb);
					break;
				}
			}
		}
	}
	spin_unlock_irqrestore(&q->lock, flags);
	return self;
}

static void graft_unixgc_work(struct work_struct *work)
{
	struct graft_sock *gsk = container_of(to_delayed_work(work),
					      struct graft_sock, gc_work);
	struct sock *hsk = gsk->host->sk;
	struct socket *sock = READ_ONCE(gsk->sk.sk_socket);
	struct file *file = sock ? READ_ONCE(sock->file) : NULL;
	struct sk_buff_head dead;
	int self;

	if (!file) {	/* an accepted socket not installed yet */
		queue_delayed_work(system_wq, &gsk->gc_work, GRAFT_GC_PERIOD);
		return;
	}
	__skb_queue_head_init(&dead);
	mutex_lock(&unix_sk(hsk)->iolock);
	self = graft_unixgc_scan(hsk, file, &dead);
	mutex_unlock(&unix_sk(hsk)->iolock);
	if (!skb_queue_empty(&dead)) {
		/* Releases the file, then (deferred) the graft socket. */
		__skb_queue_purge(&dead);
		return;
	}
	if (self)
		queue_delayed_work(system_wq, &gsk->gc_work, GRAFT_GC_PERIOD);
}

void graft_unixgc_init(struct graft_sock *gsk)
{
	INIT_DELAYED_WORK(&gsk->gc_work, graft_unixgc_work);
	gsk->host_data_ready = NULL;
}

void graft_unixgc_attach(struct graft_sock *gsk, struct socket *host)
{
	struct sock *hsk = host->sk;

	if (hsk->sk_family != AF_UNIX)
		return;
	write_lock_bh(&hsk->sk_callback_lock);
	gsk->host_data_ready = hsk->sk_data_ready;
	hsk->sk_user_data = gsk;
	hsk->sk_data_ready = graft_unix_data_ready;
	write_unlock_bh(&hsk->sk_callback_lock);
	/* Descriptors may have arrived before (accepted sockets). */
	if (atomic_read(&unix_sk(hsk)->scm_stat.nr_fds))
		queue_delayed_work(system_wq, &gsk->gc_work, GRAFT_GC_DELAY);
}

void graft_unixgc_detach(struct graft_sock *gsk)
{
	struct sock *hsk = gsk->host->sk;

	if (!gsk->host_data_ready)
		return;
	write_lock_bh(&hsk->sk_callback_lock);
	hsk->sk_data_ready = gsk->host_data_ready;
	hsk->sk_user_data = NULL;
	write_unlock_bh(&hsk->sk_callback_lock);
	cancel_delayed_work_sync(&gsk->gc_work);
}

#else /* !GRAFT_UNIX_SKB_FP: the queue's descriptors cannot be read */

void graft_unixgc_init(struct graft_sock *gsk)
{
}

void graft_unixgc_attach(struct graft_sock *gsk, struct socket *host)
{
}

void graft_unixgc_detach(struct graft_sock *gsk)
{
}

#endif
