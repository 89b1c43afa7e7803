/* tasks/timer.h - the loop's deadlines: an intrusive pairing heap of
 * hsafe__timer nodes (declared in api/task.h), ordered by `when`.
 * Implementation part only, included by hsafe.h. Pure data structure: no
 * system calls, no allocation, no platform tests; uses nothing but the
 * hsafe__timer type. Insert O(1); pop-min and remove O(log n) amortised;
 * iterative, so 100k timers cost no deep recursion.
 *
 * Links: `child` = leftmost child; `next` = right sibling; `prev` = left
 * sibling, or the parent for a leftmost child, or NULL for the root.
 */
#if defined(HSAFE__IMPL) && !defined(HSAFE__TASKS_TIMER_H)
#define HSAFE__TASKS_TIMER_H 1

static hsafe__timer *hsafe__th_meld(hsafe__timer *a, hsafe__timer *b)
{
    hsafe__timer *t;
    if (!a) return b;
    if (!b) return a;
    if (b->when < a->when) { t = a; a = b; b = t; }
    /* b becomes a's leftmost child */
    b->prev = a;
    b->next = a->child;
    if (a->child) a->child->prev = b;
    a->child = b;
    a->next = a->prev = NULL;
    return a;
}

/* Meld a sibling list (first = leftmost) into one heap: two passes. */
static hsafe__timer *hsafe__th_merge_pairs(hsafe__timer *first)
{
    hsafe__timer *acc = NULL, *stack = NULL;
    /* pass 1: meld pairs left to right, pushing each result on a stack
     * (linked through `next`) */
    while (first) {
        hsafe__timer *a = first, *b = first->next, *m;
        first = b ? b->next : NULL;
        a->next = a->prev = NULL;
        if (b) b->next = b->prev = NULL;
        m = hsafe__th_meld(a, b);
        m->next = stack;
        stack = m;
    }
    /* pass 2: meld right to left */
    while (stack) {
        hsafe__timer *m = stack;
        stack = m->next;
        m->next = NULL;
        acc = hsafe__th_meld(acc, m);
    }
    if (acc) acc->prev = acc->next = NULL;
    return acc;
}

static void hsafe__th_insert(hsafe__timer **root, hsafe__timer *n)
{
    n->child = n->next = n->prev = NULL;
    *root = hsafe__th_meld(*root, n);
}

static void hsafe__th_remove(hsafe__timer **root, hsafe__timer *n)
{
    hsafe__timer *sub;
    if (n == *root) {
        *root = hsafe__th_merge_pairs(n->child);
    } else {
        /* cut n out of its sibling list */
        if (n->prev->child == n) n->prev->child = n->next;
        else n->prev->next = n->next;
        if (n->next) n->next->prev = n->prev;
        sub = hsafe__th_merge_pairs(n->child);
        *root = hsafe__th_meld(*root, sub);
    }
    n->child = n->next = n->prev = NULL;
}

#endif /* HSAFE__TASKS_TIMER_H */
