// cpp_example.cpp - hsafe from C++11: a generator coroutine, and sanitized
// runs whose failures come back as C++ exceptions.
//
// hsafe.h is a C header; its declarations have C linkage (extern "C") in
// C++, so it is included directly, and HSAFE_IMPLEMENTATION may be defined
// in a C++ file as well as in a C file.
//
// The one rule C++ code must keep: nothing may unwind across a switch. A C++
// exception thrown inside a coroutine or a run must be caught there;
// propagating it out would skip the switch back (and, for a run, the wipe).
// The other way round, hsafe_panic() leaves a run without unwinding: the
// destructors of objects still alive in the run's frames do not run. So the
// function a run calls is plain code (here, no objects with destructors);
// anything more goes into a helper that has returned before it panics.
//
// Build, from the repository root:
//   c++ -std=c++11 -O2 -Wall -Wextra -Wpedantic -I. examples/cpp_example.cpp -o cpp_example
#define HSAFE_IMPLEMENTATION
#include "hsafe.h"

#include <cstdio>
#include <cstdlib>
#include <stdexcept>
#include <string>

namespace {

// ---- A generator -----------------------------------------------------------

// Yields the prime numbers below a limit, one per next(), from a coroutine
// on a stack taken from a pool (guard page below, wiped when it goes back).
class Primes {
public:
    Primes(hsafe_pool &pool, uintptr_t limit)
        : pool_(pool), stack_(NULL), limit_(limit), finished_(false)
    {
        int rc = hsafe_pool_acquire(&pool_, &stack_);
        if (rc != HSAFE_OK) throw std::runtime_error(hsafe_strerror(rc));
        hsafe_coro_init(&co_, hsafe_stack_base(stack_), hsafe_stack_size(stack_), body, this);
    }

    // Abandoning a suspended generator is fine: its stack is not unwound,
    // just finalised, wiped and returned to the pool.
    ~Primes()
    {
        hsafe_coro_fini(&co_);
        hsafe_pool_release(&pool_, stack_);
    }

    // Stores the next number in value; false when there are no more.
    bool next(uintptr_t &value)
    {
        uintptr_t out = 0;
        if (finished_) return false;
        int status = hsafe_coro_resume(&co_, 0, &out);
        if (status < 0) throw std::runtime_error(hsafe_strerror(status));
        if (status == HSAFE_CORO_FINISHED) {
            finished_ = true;
            return false;
        }
        value = out;
        return true;
    }

private:
    Primes(const Primes &);                 // not copyable: the coroutine
    Primes &operator=(const Primes &);      // holds a pointer to this

    static uintptr_t body(hsafe_coro *co, uintptr_t)
    {
        const Primes *self = static_cast<const Primes *>(hsafe_coro_user(co));
        for (uintptr_t n = 2; n < self->limit_; n++) {
            bool prime = true;
            for (uintptr_t d = 2; d * d <= n && prime; d++)
                prime = n % d != 0;
            if (prime) hsafe_coro_yield(co, n);     // hand n to next(), wait
        }
        return 0;                                   // finished
    }

    hsafe_pool &pool_;
    hsafe_stack *stack_;
    hsafe_coro co_;
    uintptr_t limit_;
    bool finished_;
};

// ---- Sanitized runs ----------------------------------------------------------

struct Division {
    long numerator, denominator, quotient;
};

// The function the run calls: plain code, ends the run with hsafe_panic()
// on bad input.
uintptr_t checked_divide(void *arg)
{
    Division *d = static_cast<Division *>(arg);
    if (d->denominator == 0) hsafe_panic("cannot divide %ld by zero", d->numerator);
    d->quotient = d->numerator / d->denominator;
    return 0;
}

struct PortJob {
    const char *text;
    int port;
    char error[128];
};

// Helper with C++ inside: the exception std::stoi may throw is caught here,
// and every object (the string, the exception) is gone when it returns.
bool parse_port_into(PortJob *job)
{
    try {
        std::size_t used = 0;
        int port = std::stoi(std::string(job->text), &used);
        if (job->text[used] != 0 || port < 1 || port > 65535)
            throw std::out_of_range("not a port number");
        job->port = port;
        return true;
    } catch (const std::exception &e) {
        std::snprintf(job->error, sizeof job->error, "'%s': %s", job->text, e.what());
        return false;
    }
}

uintptr_t parse_port(void *arg)
{
    PortJob *job = static_cast<PortJob *>(arg);
    if (!parse_port_into(job)) hsafe_panic("bad port %s", job->error);
    return 0;
}

// Outside the run, a panic becomes an exception again.
void run_or_throw(hsafe_pool &pool, hsafe_run_fn fn, void *arg)
{
    hsafe_run_info info;
    int rc = hsafe_run_ex(&pool, fn, arg, 0, &info);
    if (rc == HSAFE_EPANIC) throw std::invalid_argument(info.message);
    if (rc != HSAFE_OK) throw std::runtime_error(hsafe_strerror(rc));
}

long divide(hsafe_pool &pool, long numerator, long denominator)
{
    Division d = {numerator, denominator, 0};
    run_or_throw(pool, checked_divide, &d);
    return d.quotient;
}

int port_of(hsafe_pool &pool, const char *text)
{
    PortJob job;
    job.text = text;
    job.port = 0;
    job.error[0] = 0;
    run_or_throw(pool, parse_port, &job);
    return job.port;
}

} // namespace

int main()
{
    hsafe_pool pool;
    hsafe_pool_config cfg = hsafe_pool_config();    // all zero: defaults
    int failures = 0;

    std::printf("%s\n", hsafe_config_string());
    cfg.stack_size = 64 * 1024;
    int rc = hsafe_pool_init(&pool, &cfg);
    if (rc != HSAFE_OK) {
        std::fprintf(stderr, "hsafe_pool_init: %s\n", hsafe_strerror(rc));
        return 2;
    }

    {
        Primes primes(pool, 50);
        uintptr_t v = 0, sum = 0;
        std::printf("primes below 50:");
        while (primes.next(v)) {
            std::printf(" %lu", static_cast<unsigned long>(v));
            sum += v;
        }
        std::printf("\n");
        if (sum != 328) failures++;                 // 2+3+5+...+47
    }

    try {
        long q = divide(pool, 84, 2);
        std::printf("84 / 2 = %ld\n", q);
        if (q != 42) failures++;
        divide(pool, 1, 0);
        std::printf("1 / 0 did not panic\n");
        failures++;
    } catch (const std::invalid_argument &e) {
        std::printf("caught the run's panic: %s\n", e.what());
    }

    try {
        int port = port_of(pool, "8080");
        std::printf("port 8080 -> %d\n", port);
        if (port != 8080) failures++;
        port_of(pool, "http");
        std::printf("'http' was accepted as a port\n");
        failures++;
    } catch (const std::invalid_argument &e) {
        std::printf("caught the run's panic: %s\n", e.what());
    }

    hsafe_pool_stats st;
    hsafe_pool_get_stats(&pool, &st);
    std::printf("pool: %lu stack(s) created, deepest use %lu of %lu bytes\n",
                static_cast<unsigned long>(st.created), static_cast<unsigned long>(st.high_water),
                static_cast<unsigned long>(st.stack_size));
    rc = hsafe_pool_destroy(&pool);
    if (rc != HSAFE_OK) {
        std::fprintf(stderr, "hsafe_pool_destroy: %s\n", hsafe_strerror(rc));
        failures++;
    }
    std::printf("%s\n", failures ? "FAILED" : "ok");
    return failures ? 1 : 0;
}
