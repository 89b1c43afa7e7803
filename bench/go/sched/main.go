// bench/go/sched - the Go side of the scheduler benchmarks (make bench).
//
// The hsafe benchmark driver starts this once (GOMAXPROCS=1, pinned to the
// driver's CPU) and sends it one command per line on stdin; it answers one
// line with the nanoseconds of the work, timed here, so the driver measures
// Go and hsafe in the same rounds:
//
//	spawn_join N   rounds of: start 1,000 goroutines that each call
//	               runtime.Gosched once, wait for them (sync.WaitGroup);
//	               whole rounds covering N goroutines; wall ns for N
//	gosched N      two goroutines calling runtime.Gosched N times each,
//	               wall ns (one round trip = one Gosched each)
//	sleep_wake N   N goroutines each sleeping a random 0-10 ms once
//	               (time.Sleep), waited for; process CPU ns (user +
//	               system, getrusage: the runtime's threads included)
//
// Standard library only.
package main

import (
	"bufio"
	"fmt"
	"os"
	"runtime"
	"sync"
	"syscall"
	"time"
)

const batch = 1000

func spawnJoin(n int64) int64 {
	rounds := (n + batch - 1) / batch
	var wg sync.WaitGroup
	t0 := time.Now()
	for r := int64(0); r < rounds; r++ {
		wg.Add(batch)
		for i := 0; i < batch; i++ {
			go func() {
				runtime.Gosched()
				wg.Done()
			}()
		}
		wg.Wait()
	}
	ns := time.Since(t0).Nanoseconds()
	return int64(float64(ns) * float64(n) / float64(rounds*batch))
}

func gosched(n int64) int64 {
	var wg sync.WaitGroup
	var start sync.WaitGroup
	wg.Add(2)
	start.Add(2)
	body := func() {
		start.Done()
		runtime.Gosched() // both have run once before the clock starts
		for i := int64(0); i < n; i++ {
			runtime.Gosched()
		}
		wg.Done()
	}
	go body()
	go body()
	start.Wait()
	t0 := time.Now()
	wg.Wait()
	return time.Since(t0).Nanoseconds()
}

// The same xorshift as bench/be_task.c: uniform 0-10 ms.
func sleeps(n int64) []time.Duration {
	v := make([]time.Duration, n)
	x := uint64(0x9e3779b97f4a7c15)
	for i := range v {
		x ^= x << 13
		x ^= x >> 7
		x ^= x << 17
		v[i] = time.Duration(x % 10000000)
	}
	return v
}

func cpuNs() int64 {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return ru.Utime.Nano() + ru.Stime.Nano()
}

var sleepTable []time.Duration

func sleepWake(n int64) int64 {
	if int64(len(sleepTable)) < n {
		sleepTable = sleeps(n)
	}
	var wg sync.WaitGroup
	c0 := cpuNs()
	wg.Add(int(n))
	for i := int64(0); i < n; i++ {
		d := sleepTable[i]
		go func() {
			time.Sleep(d)
			wg.Done()
		}()
	}
	wg.Wait()
	return cpuNs() - c0
}

func main() {
	in := bufio.NewScanner(os.Stdin)
	out := bufio.NewWriter(os.Stdout)
	for in.Scan() {
		var cmd string
		var n int64
		if _, err := fmt.Sscan(in.Text(), &cmd, &n); err != nil || n < 1 {
			fmt.Fprintln(out, -1)
			out.Flush()
			continue
		}
		var ns int64 = -1
		switch cmd {
		case "spawn_join":
			ns = spawnJoin(n)
		case "gosched":
			ns = gosched(n)
		case "sleep_wake":
			ns = sleepWake(n)
		}
		fmt.Fprintln(out, ns)
		out.Flush()
	}
}
