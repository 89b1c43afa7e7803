// bench/go/cold - the Go side of the fresh-process benchmarks (make bench).
// Run once per measurement in a new process (GOMAXPROCS=1), so nothing is
// warm: no goroutine, stack or heap span to reuse.
//
//	cold N     start N goroutines that each park on a channel receive;
//	           once all have parked (the last to start signals main,
//	           which blocks meanwhile),
//	           close the channel (wakes all) and wait (sync.WaitGroup).
//	           Prints: spawn_ns_per_task finish_ns_per_task
//	           rss_bytes_per_task_while_parked
//	parked N   start N goroutines that each sleep 1 s (time.Sleep); once
//	           all have started, read RSS; wait for them.
//	           Prints: rss_growth_bytes_per_task
//
// RSS is /proc/self/statm's resident pages. Standard library only.
package main

import (
	"fmt"
	"os"
	"strconv"
	"sync"
	"sync/atomic"
	"time"
)

func rss() int64 {
	b, err := os.ReadFile("/proc/self/statm")
	if err != nil {
		return -1
	}
	var size, res int64
	fmt.Sscan(string(b), &size, &res)
	return res * int64(os.Getpagesize())
}

// The goroutine that brings the count to n signals main, which blocks
// meanwhile (no polling).
func start(started *int64, n int64, all chan struct{}) {
	if atomic.AddInt64(started, 1) == n {
		all <- struct{}{}
	}
}

func cold(n int64) {
	ch := make(chan struct{})
	var wg sync.WaitGroup
	var started int64
	all := make(chan struct{}, 1)
	r0 := rss()
	t0 := time.Now()
	wg.Add(int(n))
	for i := int64(0); i < n; i++ {
		go func() {
			start(&started, n, all)
			<-ch
			wg.Done()
		}()
	}
	<-all
	t1 := time.Now()
	r1 := rss()
	close(ch)
	wg.Wait()
	t2 := time.Now()
	fmt.Printf("%.3f %.3f %.1f\n", float64(t1.Sub(t0).Nanoseconds())/float64(n),
		float64(t2.Sub(t1).Nanoseconds())/float64(n), float64(r1-r0)/float64(n))
}

func parked(n int64) {
	var wg sync.WaitGroup
	var started int64
	all := make(chan struct{}, 1)
	r0 := rss()
	wg.Add(int(n))
	for i := int64(0); i < n; i++ {
		go func() {
			start(&started, n, all)
			time.Sleep(time.Second)
			wg.Done()
		}()
	}
	<-all
	r1 := rss()
	wg.Wait()
	fmt.Printf("%.1f\n", float64(r1-r0)/float64(n))
}

func main() {
	if len(os.Args) != 3 {
		fmt.Fprintln(os.Stderr, "usage: cold cold|parked N")
		os.Exit(2)
	}
	n, err := strconv.ParseInt(os.Args[2], 10, 64)
	if err != nil || n < 1 {
		fmt.Fprintln(os.Stderr, "bad N")
		os.Exit(2)
	}
	switch os.Args[1] {
	case "cold":
		cold(n)
	case "parked":
		parked(n)
	default:
		os.Exit(2)
	}
}
