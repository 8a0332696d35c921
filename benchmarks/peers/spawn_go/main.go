// Peer benchmark: spawn and join of an empty goroutine, the figure uco's
// spawn + join of an empty task is compared with.
//
//	spawn_join        one goroutine at a time: wg.Add(1); go f(); wg.Wait()
//	spawn_join_batch  spawn 100,000 goroutines, then wait for all of them;
//	                  the time per goroutine
//
// tools/bench runs this pinned to one CPU, so GOMAXPROCS is 1, like a single
// uco loop.  Each figure is the best (lowest) of several repetitions.
//
// Prints, one line per figure:
//
//	RESULT group=spawn name=<name> impl=go value=<ns> unit=ns
package main

import (
	"flag"
	"fmt"
	"sync"
	"time"
)

// spawnJoin spawns n goroutines one after the other, waiting for each to
// finish before spawning the next, and returns the elapsed time.
func spawnJoin(n int) time.Duration {
	var wg sync.WaitGroup
	start := time.Now()
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func() { wg.Done() }()
		wg.Wait()
	}
	return time.Since(start)
}

// spawnJoinBatch spawns n goroutines, then waits for all of them, and
// returns the elapsed time.
func spawnJoinBatch(n int) time.Duration {
	var wg sync.WaitGroup
	start := time.Now()
	wg.Add(n)
	for i := 0; i < n; i++ {
		go func() { wg.Done() }()
	}
	wg.Wait()
	return time.Since(start)
}

// best runs f(n) reps times after one warm-up run and returns the shortest.
func best(f func(int) time.Duration, n, reps int) time.Duration {
	f(n / 10)
	min := time.Duration(1<<63 - 1)
	for r := 0; r < reps; r++ {
		if d := f(n); d < min {
			min = d
		}
	}
	return min
}

func main() {
	quick := flag.Bool("quick", false, "fewer iterations")
	flag.Parse()

	seqN, batchN, reps := 1000000, 100000, 5
	if *quick {
		seqN, reps = 200000, 3
	}

	seq := best(spawnJoin, seqN, reps)
	fmt.Printf("RESULT group=spawn name=spawn_join impl=go value=%.2f unit=ns\n",
		float64(seq.Nanoseconds())/float64(seqN))
	batch := best(spawnJoinBatch, batchN, reps)
	fmt.Printf("RESULT group=spawn name=spawn_join_batch impl=go value=%.2f unit=ns\n",
		float64(batch.Nanoseconds())/float64(batchN))
}
