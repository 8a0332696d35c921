// Peer benchmark: a buffered Go channel between two goroutines, the figure
// uco's cross-core channel (group=channel name=cross_core) is compared with.
//
// One goroutine sends 1..N (as uintptr, no allocation per message) into a
// channel of 1024 slots, the main goroutine receives them and checks their
// order: messages per second from the first send to the last receive.
// tools/bench runs it unpinned with GOMAXPROCS=2, so the two goroutines can
// run on both CPUs (it sets GOMAXPROCS to 2 itself if the variable is
// unset).  The figure is the best of several repetitions after a warm-up.
//
// Prints:
//
//	RESULT group=channel name=cross_core impl=go value=<M/s> unit=Mmsg/s
package main

import (
	"flag"
	"fmt"
	"os"
	"runtime"
	"time"
)

const capacity = 1024

// oneRun streams n values through a fresh channel and returns the time.
func oneRun(n uintptr) time.Duration {
	ch := make(chan uintptr, capacity)
	start := time.Now()
	go func() {
		for i := uintptr(1); i <= n; i++ {
			ch <- i
		}
	}()
	for want := uintptr(1); want <= n; want++ {
		if v := <-ch; v != want {
			fmt.Fprintf(os.Stderr, "channel_go: got %d, want %d\n", v, want)
			os.Exit(1)
		}
	}
	return time.Since(start)
}

func main() {
	quick := flag.Bool("quick", false, "fewer iterations")
	flag.Parse()
	if os.Getenv("GOMAXPROCS") == "" {
		runtime.GOMAXPROCS(2)
	}

	n, reps := uintptr(10000000), 5
	if *quick {
		n, reps = 2000000, 3
	}
	oneRun(n / 10)
	best := time.Duration(1<<63 - 1)
	for r := 0; r < reps; r++ {
		if d := oneRun(n); d < best {
			best = d
		}
	}
	fmt.Printf("RESULT group=channel name=cross_core impl=go value=%.4g unit=Mmsg/s\n",
		float64(n)/best.Seconds()/1e6)
}
