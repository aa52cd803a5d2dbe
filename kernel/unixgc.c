// SPDX-License-Identifier: GPL-2.0
/*
 * Descriptor cycles through unix host sockets.
 *
 * A graft socket whose host socket is AF_UNIX owns that host socket's
 * receive queue: only it can read what is there.  Descriptors passed over
 * SCM_RIGHTS into that queue can close a cycle: the graft socket itself
 * (sent by the host's peer), two graft sockets each in the other's host
 * queue, a graft socket in a plain unix socket's queue while that unix
 * socket is in flight in the graft socket's host queue, a graft listener in
 * the queue of its host's not yet accepted connection, and longer chains of
 * these.  Once every descriptor of them is closed, the only references left
 * are the ones in flight inside the cycle.  The unix garbage collector only
 * follows unix sockets' files, and the host sockets have no file: it sees
 * none of these, and the graft sockets, their host sockets and the module
 * would stay forever.
 *
 * So af_graft collects them itself, in one work item (graft_gc_run):
 *
 *  1. The graph.  Its nodes are the graft sockets with unix hosts (watched
 *     from attach to detach) and the plain unix sockets found in flight in
 *     their queues, transitively; a node's queues are its (host) socket's
 *     receive queue and, for a listener, the queues of its embryos.  For
 *     each node: the references to its file found in the nodes' queues
 *     (inner) and the file's count.  A node whose count is larger has a
 *     reference from outside (a descriptor, a queue outside the graph, a
 *     file in transit): it is alive, and so is all it reaches.  The rest
 *     are the candidates.
 *  2. The check.  With the candidates' iolocks held (no reader can take
 *     anything out of their queues), their queues are counted again, then
 *     their files' counts read.  A candidate whose references are all in
 *     candidates' queues, and which no alive candidate reaches, is dead:
 *     nothing outside can reach it, and with the readers shut out nothing
 *     can give it a reference again.
 *  3. The cut.  The dead graft sockets' host sockets are released (as
 *     release() would), which frees what their queues hold; what is left,
 *     if anything, is unix sockets in each other's queues, which the unix
 *     collector handles (a unix socket's release schedules it).  The graft
 *     sockets themselves go once their last in-flight reference does.
 *
 * A unix host socket's sk_data_ready schedules a run when descriptors or a
 * connection arrive; a run is repeated every GRAFT_GC_PERIOD while any
 * watched queue holds descriptors or a watched listener holds connections.
 */
#include <linux/file.h>
#include <linux/fs.h>
#include <linux/hash.h>
#include <linux/mm.h>
#include <linux/moduleparam.h>
#include <linux/mutex.h>
#include <linux/net.h>
#include <linux/skbuff.h>
#include <linux/slab.h>
#include <linux/workqueue.h>
#include <net/af_unix.h>
#include <net/net_namespace.h>
#include <net/scm.h>
#include <net/sock.h>

#include "compat.h"
#include "socket.h"
#include "socklist.h"
#include "unixgc.h"

#define GRAFT_GC_DELAY (HZ / 10)
#define GRAFT_GC_PERIOD (HZ / 2)
#define GRAFT_GC_MAX_NODES (1U << 16)
#define GRAFT_GC_MAX_REFS (1U << 20)

static bool unixgc_debug;
module_param(unixgc_debug, bool, 0644);
MODULE_PARM_DESC(unixgc_debug, "Log each descriptor cycle the unix host collector breaks");

static unsigned long unixgc_collected;
module_param(unixgc_collected, ulong, 0444);
MODULE_PARM_DESC(unixgc_collected, "Graft sockets whose host socket the unix host collector released");

static void graft_gc_run(struct work_struct *work);
static DECLARE_DELAYED_WORK(graft_gc_work, graft_gc_run);
static DEFINE_MUTEX(graft_gc_lock);	/* the watched list; one run at a time */
static LIST_HEAD(graft_gc_socks);	/* graft sockets with unix hosts */

void graft_unixgc_init(struct graft_sock *gsk)
{
	INIT_LIST_HEAD(&gsk->gc_node);
	gsk->host_data_ready = NULL;
}

int graft_unixgc_start(void)
{
	return 0;
}

void graft_unixgc_stop(void)
{
	cancel_delayed_work_sync(&graft_gc_work);
}

#ifdef GRAFT_UNIX_SKB_FP	/* compat.h: where a unix message's files are */

struct graft_gc_node {
	struct file *file;	/* NULL: an accepted socket not installed yet */
	struct sock *sk;	/* whose queue: the host or the unix socket */
	struct graft_sock *gsk;	/* NULL for a plain unix socket */
	struct socket *host;	/* dead graft sockets: the host to release */
	struct net *host_net;
	long count;		/* the file's references, our pin aside */
	long inner;		/* references found in the queues scanned */
	u32 first, last;	/* its references: gc->edge[first..last) */
	bool pinned;		/* we hold a reference on file (unix nodes) */
	bool candidate, alive, locked;
};

struct graft_gc {
	struct graft_gc_node *node;
	u32 nodes, node_cap;
	u32 *edge;		/* node indexes, grouped by the node holding them */
	u32 edges, edge_cap;
	u32 *slot;		/* file -> node index + 1, open addressing */
	u32 slot_bits;
	struct file **buf;	/* the files of one node's queues, pinned */
	u32 nbuf, buf_cap;
	bool confirm;		/* step 2: only candidates count */
	bool busy;		/* descriptors or connections in a watched queue */
	bool full;		/* a limit was hit: nothing is collected */
};

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

/* A larger copy of the array *@p (@used of *@cap items); false if none. */
static bool graft_gc_grow(void *p, u32 used, u32 *cap, size_t size, u32 max)
{
	void **old = p, *new;
	u32 ncap = *cap ? *cap * 2 : 64;

	if (*cap >= max)
		return false;
	ncap = min(ncap, max);
	new = kvmalloc_array(ncap, size, GFP_KERNEL);
	if (!new)
		return false;
	if (*old)
		memcpy(new, *old, (size_t)used * size);
	kvfree(*old);
	*old = new;
	*cap = ncap;
	return true;
}

static u32 *graft_gc_slot(struct graft_gc *gc, struct file *file)
{
	u32 mask = (1U << gc->slot_bits) - 1;
	u32 i = hash_ptr(file, gc->slot_bits);

	while (gc->slot[i] && gc->node[gc->slot[i] - 1].file != file)
		i = (i + 1) & mask;
	return &gc->slot[i];
}

/* The node of @file, or -1. */
static int graft_gc_find(struct graft_gc *gc, struct file *file)
{
	return gc->slot ? (int)*graft_gc_slot(gc, file) - 1 : -1;
}

static bool graft_gc_rehash(struct graft_gc *gc)
{
	u32 *old = gc->slot, i;

	gc->slot = kvcalloc(1U << (gc->slot_bits + 1), sizeof(u32), GFP_KERNEL);
	if (!gc->slot) {
		gc->slot = old;
		return false;
	}
	gc->slot_bits++;
	for (i = 0; i < gc->nodes; i++)
		if (gc->node[i].file)
			*graft_gc_slot(gc, gc->node[i].file) = i + 1;
	kvfree(old);
	return true;
}

/* A new node; -1 (and gc->full) when it does not fit. */
static int graft_gc_add(struct graft_gc *gc, struct file *file,
			struct sock *sk, struct graft_sock *gsk)
{
	if ((gc->nodes == gc->node_cap &&
	     !graft_gc_grow(&gc->node, gc->nodes, &gc->node_cap,
			    sizeof(*gc->node), GRAFT_GC_MAX_NODES)) ||
	    ((!gc->slot || (gc->nodes + 1) * 2 > (1U << gc->slot_bits)) &&
	     !graft_gc_rehash(gc))) {
		gc->full = true;
		return -1;
	}
	gc->node[gc->nodes] = (struct graft_gc_node){
		.file = file, .sk = sk, .gsk = gsk,
	};
	if (file)
		*graft_gc_slot(gc, file) = gc->nodes + 1;
	return gc->nodes++;
}

/*
 * Pin into gc->buf each file @q's messages carry, up to the buffer's size;
 * return how many there are.  Called with @q's lock.
 */
static u32 graft_gc_pin_queue(struct graft_gc *gc, struct sk_buff_head *q,
			      u32 n)
{
	struct sk_buff *skb;
	int i;

	skb_queue_walk(q, skb) {
		struct scm_fp_list *fp = graft_skb_fp(skb);

		for (i = 0; fp && i < fp->count; i++, n++)
			if (n < gc->buf_cap)
				gc->buf[n] = get_file(fp->fp[i]);
	}
	return n;
}

/* The same for @sk's queue and, when it listens, its embryos' queues. */
static u32 graft_gc_pin_sock(struct graft_gc *gc, struct sock *sk, bool *conns)
{
	struct sk_buff_head *q = &sk->sk_receive_queue;
	struct sk_buff *skb;
	unsigned long flags;
	u32 n;

	spin_lock_irqsave(&q->lock, flags);
	n = graft_gc_pin_queue(gc, q, 0);
	if (READ_ONCE(sk->sk_state) == TCP_LISTEN) {
		skb_queue_walk(q, skb) {
			struct sk_buff_head *eq = &skb->sk->sk_receive_queue;

			*conns = true;
			spin_lock_nested(&eq->lock, SINGLE_DEPTH_NESTING);
			n = graft_gc_pin_queue(gc, eq, n);
			spin_unlock(&eq->lock);
		}
	}
	spin_unlock_irqrestore(&q->lock, flags);
	return n;
}

/* gc->buf: the files node @i's queues carry, pinned; false on no memory. */
static bool graft_gc_pin(struct graft_gc *gc, u32 i)
{
	bool conns = false;
	u32 n;

	for (;;) {
		n = graft_gc_pin_sock(gc, gc->node[i].sk, &conns);
		if (n <= gc->buf_cap)
			break;
		while (gc->nbuf < gc->buf_cap)	/* a partial count: again */
			fput(gc->buf[gc->nbuf++]);
		gc->nbuf = 0;
		kvfree(gc->buf);
		gc->buf = NULL;
		gc->buf_cap = 0;
		if (n > GRAFT_GC_MAX_REFS)
			return false;
		gc->buf = kvmalloc_array(n + 64, sizeof(*gc->buf), GFP_KERNEL);
		if (!gc->buf)
			return false;
		gc->buf_cap = n + 64;
	}
	gc->nbuf = n;
	if (gc->node[i].gsk && (n || conns))
		gc->busy = true;
	return true;
}

/* A unix socket's sock, if @file is one. */
static struct sock *graft_gc_unix_sk(struct file *file)
{
	struct socket *sock = sock_from_file(file);
	const struct proto_ops *ops = sock ? READ_ONCE(sock->ops) : NULL;

	return ops && ops->family == PF_UNIX ? sock->sk : NULL;
}

/*
 * Count the references node @i's queues hold and note them as its edges;
 * before the check, a unix socket met for the first time becomes a node
 * (keeping the pin).  Every other pin is dropped.
 */
static void graft_gc_scan(struct graft_gc *gc, u32 i)
{
	u32 k;

	gc->node[i].first = gc->edges;
	if (!graft_gc_pin(gc, i)) {
		gc->full = true;
		gc->nbuf = 0;
	}
	for (k = 0; k < gc->nbuf; k++) {
		struct file *file = gc->buf[k];
		int j = graft_gc_find(gc, file);
		struct sock *usk;

		if (j < 0 && !gc->confirm && (usk = graft_gc_unix_sk(file))) {
			j = graft_gc_add(gc, file, usk, NULL);
			if (j >= 0) {
				gc->node[j].pinned = true;
				file = NULL;	/* the node keeps the pin */
			}
		}
		if (j >= 0 && (!gc->confirm || gc->node[j].candidate)) {
			if (gc->edges == gc->edge_cap &&
			    !graft_gc_grow(&gc->edge, gc->edges, &gc->edge_cap,
					   sizeof(*gc->edge), GRAFT_GC_MAX_REFS))
				gc->full = true;
			else
				gc->edge[gc->edges++] = j;
			gc->node[j].inner++;
		}
		if (file)
			fput(file);
	}
	gc->nbuf = 0;
	gc->node[i].last = gc->edges;
}

/* In the set being judged: every node, then (confirm) the candidates. */
static bool graft_gc_judged(struct graft_gc *gc, u32 i)
{
	return !gc->confirm || gc->node[i].candidate;
}

/*
 * Mark alive the nodes with a reference from outside the queues scanned,
 * and all they reach.  False on no memory.
 */
static bool graft_gc_mark(struct graft_gc *gc)
{
	u32 *stack, top = 0, i, e;

	stack = kvmalloc_array(max(gc->nodes, 1U), sizeof(*stack), GFP_KERNEL);
	if (!stack)
		return false;
	for (i = 0; i < gc->nodes; i++) {
		struct graft_gc_node *n = &gc->node[i];

		n->alive = false;
		if (!graft_gc_judged(gc, i))
			continue;
		n->count = n->file ? file_count(n->file) - n->pinned : 0;
		if (!n->file || n->count <= 0 || n->count != n->inner) {
			n->alive = true;
			stack[top++] = i;
		}
	}
	while (top) {
		i = stack[--top];
		for (e = gc->node[i].first; e < gc->node[i].last; e++) {
			struct graft_gc_node *m = &gc->node[gc->edge[e]];

			if (!m->alive && graft_gc_judged(gc, gc->edge[e])) {
				m->alive = true;
				stack[top++] = gc->edge[e];
			}
		}
	}
	kvfree(stack);
	return true;
}

/* Step 1: the graph from the watched sockets; false if too large. */
static bool graft_gc_discover(struct graft_gc *gc)
{
	struct graft_sock *gsk;
	u32 i;

	list_for_each_entry(gsk, &graft_gc_socks, gc_node) {
		struct socket *sock = READ_ONCE(gsk->sk.sk_socket);

		graft_gc_add(gc, sock ? READ_ONCE(sock->file) : NULL,
			     gsk->host->sk, gsk);
	}
	for (i = 0; i < gc->nodes && !gc->full; i++) {
		graft_gc_scan(gc, i);
		cond_resched();
	}
	if (gc->full || !graft_gc_mark(gc))
		return false;
	for (i = 0; i < gc->nodes; i++)
		gc->node[i].candidate = !gc->node[i].alive;
	return true;
}

static struct mutex *graft_gc_iolock(struct graft_gc_node *n)
{
	return &unix_sk(n->sk)->iolock;
}

static void graft_gc_unlock(struct graft_gc *gc)
{
	u32 i;

	for (i = 0; i < gc->nodes; i++) {
		if (gc->node[i].locked)
			mutex_unlock(graft_gc_iolock(&gc->node[i]));
		gc->node[i].locked = false;
	}
}

/*
 * Step 2: with the candidates' readers shut out, count again; the
 * candidates left not alive are dead.  -EAGAIN if a reader holds an
 * iolock, -ENOMEM.
 */
static int graft_gc_confirm(struct graft_gc *gc)
{
	u32 i;
	int ret = 0;

	for (i = 0; i < gc->nodes; i++) {
		struct graft_gc_node *n = &gc->node[i];

		n->inner = 0;
		n->first = n->last = 0;
		if (n->candidate && !mutex_trylock(graft_gc_iolock(n))) {
			graft_gc_unlock(gc);
			return -EAGAIN;
		}
		n->locked = n->candidate;
	}
	gc->confirm = true;
	gc->edges = 0;
	for (i = 0; i < gc->nodes && !gc->full; i++)
		if (gc->node[i].candidate)
			graft_gc_scan(gc, i);
	if (gc->full || !graft_gc_mark(gc))
		ret = -ENOMEM;
	graft_gc_unlock(gc);
	return ret;
}

static bool graft_gc_dead(struct graft_gc *gc, u32 i)
{
	return gc->confirm && gc->node[i].candidate && !gc->node[i].alive;
}

static unsigned long graft_gc_ino(struct graft_gc_node *n)
{
	return sock_i_ino(n->gsk ? &n->gsk->sk : n->sk);
}

static u32 graft_gc_root(u32 *up, u32 i)
{
	while (up[i] != i)
		i = up[i] = up[up[i]];
	return i;
}

/* unixgc_debug: one line a dead node, with what its queues hold. */
static void graft_gc_log_node(struct graft_gc *gc, struct graft_gc_node *n)
{
	char line[160];
	int len = 0;
	u32 e;

	for (e = n->first; e < n->last && len < sizeof(line) - 24; e++) {
		struct graft_gc_node *m = &gc->node[gc->edge[e]];

		len += scnprintf(line + len, sizeof(line) - len, " %s:%lu",
				 m->gsk ? "graft" : "unix", graft_gc_ino(m));
	}
	line[len] = 0;
	pr_info("unixgc:   %s:%lu%s, %ld ref(s), holds:%s\n",
		n->gsk ? "graft" : "unix", graft_gc_ino(n),
		READ_ONCE(n->sk->sk_state) == TCP_LISTEN ? " (listening)" : "",
		n->count, len ? line : " -");
}

/* unixgc_debug: the dead nodes, one cycle (connected set) at a time. */
static void graft_gc_log(struct graft_gc *gc)
{
	u32 *up, i, j, e, size;

	up = kvmalloc_array(gc->nodes, sizeof(*up), GFP_KERNEL);
	if (!up)
		return;
	for (i = 0; i < gc->nodes; i++)
		up[i] = i;
	for (i = 0; i < gc->nodes; i++)
		for (e = gc->node[i].first; graft_gc_dead(gc, i) &&
		     e < gc->node[i].last; e++)
			if (graft_gc_dead(gc, gc->edge[e]))
				up[graft_gc_root(up, gc->edge[e])] =
					graft_gc_root(up, i);
	for (i = 0; i < gc->nodes; i++) {
		if (!graft_gc_dead(gc, i) || graft_gc_root(up, i) != i)
			continue;
		for (size = 0, j = 0; j < gc->nodes; j++)
			size += graft_gc_dead(gc, j) && graft_gc_root(up, j) == i;
		pr_info("unixgc: breaking a descriptor cycle of %u socket(s)\n",
			size);
		for (j = 0; j < gc->nodes; j++)
			if (graft_gc_dead(gc, j) && graft_gc_root(up, j) == i)
				graft_gc_log_node(gc, &gc->node[j]);
	}
	kvfree(up);
}

static void graft_gc_unhook(struct graft_sock *gsk)
{
	struct sock *hsk = gsk->host->sk;

	write_lock_bh(&hsk->sk_callback_lock);
	hsk->sk_data_ready = gsk->host_data_ready;
	hsk->sk_user_data = NULL;
	write_unlock_bh(&hsk->sk_callback_lock);
}

/*
 * Step 3, under graft_gc_lock: the dead graft sockets stop being watched
 * and listed and lose their host sockets, which graft_gc_free() releases.
 */
static void graft_gc_cut(struct graft_gc *gc)
{
	u32 i, dead = 0;

	for (i = 0; i < gc->nodes; i++)
		dead += graft_gc_dead(gc, i);
	if (!dead)
		return;
	if (READ_ONCE(unixgc_debug))
		graft_gc_log(gc);
	for (i = 0; i < gc->nodes; i++) {
		struct graft_gc_node *n = &gc->node[i];

		if (!n->gsk || !graft_gc_dead(gc, i))
			continue;
		graft_gc_unhook(n->gsk);
		list_del_init(&n->gsk->gc_node);
		graft_sock_unlink(n->gsk);
		n->host = n->gsk->host;
		n->host_net = n->gsk->host_net;
		WRITE_ONCE(n->gsk->host, NULL);
		n->gsk->host_net = NULL;
		unixgc_collected++;
	}
}

/* After graft_gc_lock: release what step 3 took, drop the pins. */
static void graft_gc_free(struct graft_gc *gc)
{
	u32 i;

	for (i = 0; i < gc->nodes; i++) {
		struct graft_gc_node *n = &gc->node[i];

		if (n->host) {
			sock_release(n->host);
			put_net(n->host_net);
		}
		if (n->pinned)
			fput(n->file);
	}
	kvfree(gc->node);
	kvfree(gc->edge);
	kvfree(gc->slot);
	kvfree(gc->buf);
}

/* Steps 1 and 2: 0 when gc's dead nodes (if any) are known. */
static int graft_gc_judge(struct graft_gc *gc)
{
	u32 i;

	if (!graft_gc_discover(gc)) {
		pr_warn_once("unixgc: out of memory, or more than %u sockets or %u descriptors in flight: descriptor cycles through unix host sockets are not collected for now\n",
			     GRAFT_GC_MAX_NODES, GRAFT_GC_MAX_REFS);
		return -ENOMEM;
	}
	for (i = 0; i < gc->nodes; i++)
		if (gc->node[i].candidate)
			return graft_gc_confirm(gc);
	return 0;
}

static void graft_gc_run(struct work_struct *work)
{
	struct graft_gc gc = { .slot_bits = 5 };
	unsigned long again = 0;
	int ret;

	mutex_lock(&graft_gc_lock);
	ret = graft_gc_judge(&gc);
	if (!ret)
		graft_gc_cut(&gc);
	if (!list_empty(&graft_gc_socks) && (gc.busy || ret))
		again = ret == -EAGAIN ? GRAFT_GC_DELAY : GRAFT_GC_PERIOD;
	mutex_unlock(&graft_gc_lock);
	graft_gc_free(&gc);
	if (again)
		queue_delayed_work(system_wq, &graft_gc_work, again);
}

/* Descriptors or a connection arrived: a cycle may have closed. */
static void graft_gc_kick(struct sock *hsk)
{
	if (atomic_read(&unix_sk(hsk)->scm_stat.nr_fds) ||
	    READ_ONCE(hsk->sk_state) == TCP_LISTEN)
		queue_delayed_work(system_wq, &graft_gc_work, GRAFT_GC_DELAY);
}

static void graft_unix_data_ready(struct sock *hsk)
{
	void (*ready)(struct sock *sk) = NULL;
	struct graft_sock *gsk;

	read_lock_bh(&hsk->sk_callback_lock);
	gsk = hsk->sk_user_data;
	if (gsk) {
		ready = gsk->host_data_ready;
		graft_gc_kick(hsk);
	}
	read_unlock_bh(&hsk->sk_callback_lock);
	if (ready)
		ready(hsk);
}

void graft_unixgc_attach(struct graft_sock *gsk, struct socket *host)
{
	struct sock *hsk = host->sk;

	if (hsk->sk_family != AF_UNIX)
		return;
	mutex_lock(&graft_gc_lock);
	write_lock_bh(&hsk->sk_callback_lock);
	gsk->host_data_ready = hsk->sk_data_ready;
	hsk->sk_user_data = gsk;
	hsk->sk_data_ready = graft_unix_data_ready;
	write_unlock_bh(&hsk->sk_callback_lock);
	list_add_tail(&gsk->gc_node, &graft_gc_socks);
	mutex_unlock(&graft_gc_lock);
	/* Descriptors may have arrived before (accepted sockets). */
	graft_gc_kick(hsk);
}

void graft_unixgc_detach(struct graft_sock *gsk)
{
	if (!gsk->host_data_ready)	/* never watched */
		return;
	mutex_lock(&graft_gc_lock);
	if (!list_empty(&gsk->gc_node)) {	/* not cut by a run */
		graft_gc_unhook(gsk);
		list_del_init(&gsk->gc_node);
	}
	mutex_unlock(&graft_gc_lock);
}

#else /* !GRAFT_UNIX_SKB_FP: the queue's descriptors cannot be read */

void graft_unixgc_attach(struct graft_sock *gsk, struct socket *host)
{
}

void graft_unixgc_detach(struct graft_sock *gsk)
{
}

#endif
