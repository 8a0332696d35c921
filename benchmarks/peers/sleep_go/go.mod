module uco/benchmarks/peers/sleep_go

go 1.19
