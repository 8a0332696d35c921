// Peer benchmark: a million goroutines asleep at once, the figure uco's
// 1,000,000 tasks sleeping 1 s are compared with.
//
// Every goroutine calls time.Sleep(1 s); all are spawned as fast as possible.
// Two figures:
//
//	wall_1M (wall_100k with --quick)  seconds from the first spawn until the
//	                                  last goroutine has woken and finished
//	rss_per_task                      (peak RSS after - RSS before spawning)
//	                                  / number of goroutines, in KiB, read
//	                                  from VmHWM and VmRSS in /proc/self/status
//
// The run is done once: peak RSS is only meaningful in a fresh process.
//
// Prints, one line per figure:
//
//	RESULT group=sleep name=<name> impl=go value=<v> unit=<s|KiB>
package main

import (
	"bufio"
	"flag"
	"fmt"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// statusKiB returns a "kB" field of /proc/self/status (VmRSS, VmHWM, ...).
func statusKiB(field string) int64 {
	f, err := os.Open("/proc/self/status")
	if err != nil {
		fmt.Fprintln(os.Stderr, "sleep_go:", err)
		os.Exit(1)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := sc.Text()
		if !strings.HasPrefix(line, field+":") {
			continue
		}
		fields := strings.Fields(line[len(field)+1:])
		if len(fields) >= 1 {
			if v, err := strconv.ParseInt(fields[0], 10, 64); err == nil {
				return v
			}
		}
	}
	fmt.Fprintf(os.Stderr, "sleep_go: no %s in /proc/self/status\n", field)
	os.Exit(1)
	return 0
}

func main() {
	quick := flag.Bool("quick", false, "100,000 goroutines instead of 1,000,000")
	flag.Parse()

	n, name := 1000000, "wall_1M"
	if *quick {
		n, name = 100000, "wall_100k"
	}

	before := statusKiB("VmRSS")
	var wg sync.WaitGroup
	var alive, maxAlive int64
	wg.Add(n)
	start := time.Now()
	for i := 0; i < n; i++ {
		go func() {
			atomic.AddInt64(&alive, 1)
			time.Sleep(time.Second)
			atomic.AddInt64(&alive, -1)
			wg.Done()
		}()
		if i%4096 == 0 {
			if a := atomic.LoadInt64(&alive); a > maxAlive {
				maxAlive = a
			}
		}
	}
	spawned := time.Since(start)
	if a := atomic.LoadInt64(&alive); a > maxAlive {
		maxAlive = a
	}
	wg.Wait()
	wall := time.Since(start)
	peak := statusKiB("VmHWM")

	// When spawning takes longer than the sleep, the first goroutines are
	// gone before the last ones start, and the RSS figure (divided by n as
	// specified) understates the cost of n goroutines alive at once.
	if spawned > time.Second {
		fmt.Fprintf(os.Stderr, "sleep_go: note: spawning %d goroutines took %.2f s; "+
			"at most ~%d were asleep at once\n", n, spawned.Seconds(), maxAlive)
	}

	fmt.Printf("RESULT group=sleep name=%s impl=go value=%.3f unit=s\n",
		name, wall.Seconds())
	fmt.Printf("RESULT group=sleep name=rss_per_task impl=go value=%.3f unit=KiB\n",
		float64(peak-before)/float64(n))
}
