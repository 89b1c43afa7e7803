// bench/go/chan: Go doing what bench/chan.c does, for bench/chan.sh.
//
//	chan pingpong   GOMAXPROCS=1: two goroutines pass an int back and
//	                forth over two unbuffered channels; ns per round trip.
//	chan xthread    GOMAXPROCS=2: a producer goroutine sends MSGS ints into
//	                a channel of 1024, a consumer receives them; messages
//	                per second.
//
// Prints "BENCH go_<metric> <value>" (median of REPS repetitions) and each
// repetition on stderr. Standard library only.
package main

import (
	"fmt"
	"os"
	"runtime"
	"sort"
	"time"
)

const (
	reps     = 5
	ppRounds = 200000
	xtMsgs   = 2000000
	xtCap    = 1024
)

func median(v []float64) float64 {
	sort.Float64s(v)
	return v[len(v)/2]
}

func pingpong() float64 {
	ping := make(chan int)
	pong := make(chan int)
	go func() {
		for v := range ping {
			pong <- v + 1
		}
	}()
	v := 0
	for i := 0; i < 1000; i++ {
		ping <- v
		v = <-pong
	}
	t0 := time.Now()
	for i := 0; i < ppRounds; i++ {
		ping <- v
		v = <-pong
	}
	ns := float64(time.Since(t0).Nanoseconds()) / ppRounds
	close(ping)
	if v != ppRounds+1000 {
		fmt.Fprintln(os.Stderr, "go pingpong: wrong result")
		os.Exit(1)
	}
	return ns
}

func xthread() float64 {
	ch := make(chan int, xtCap)
	done := make(chan int64)
	t0 := time.Now()
	go func() {
		var sum int64
		for i := 0; i < xtMsgs; i++ {
			sum += int64(<-ch)
		}
		done <- sum
	}()
	go func() {
		for i := 0; i < xtMsgs; i++ {
			ch <- i
		}
	}()
	sum := <-done
	el := time.Since(t0)
	if sum != int64(xtMsgs)*(xtMsgs-1)/2 {
		fmt.Fprintln(os.Stderr, "go xthread: wrong sum")
		os.Exit(1)
	}
	return float64(xtMsgs) / el.Seconds()
}

func main() {
	if len(os.Args) != 2 {
		fmt.Fprintln(os.Stderr, "usage: chan pingpong|xthread")
		os.Exit(2)
	}
	r := make([]float64, reps)
	switch os.Args[1] {
	case "pingpong":
		runtime.GOMAXPROCS(1)
		for i := range r {
			r[i] = pingpong()
			fmt.Fprintf(os.Stderr, "go_chan_pingpong rep %d: %.1f ns\n", i, r[i])
		}
		fmt.Printf("BENCH go_chan_pingpong_ns %.1f\n", median(r))
	case "xthread":
		runtime.GOMAXPROCS(2)
		for i := range r {
			r[i] = xthread()
			fmt.Fprintf(os.Stderr, "go_xthread_chan rep %d: %.0f msgs/s\n", i, r[i])
		}
		fmt.Printf("BENCH go_xthread_chan_msgs_per_s %.0f\n", median(r))
	default:
		fmt.Fprintln(os.Stderr, "usage: chan pingpong|xthread")
		os.Exit(2)
	}
}
