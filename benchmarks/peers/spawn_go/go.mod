module uco/benchmarks/peers/spawn_go

go 1.19
