module uco/benchmarks/peers/channel_go

go 1.19
