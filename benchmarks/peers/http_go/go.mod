module uco/benchmarks/peers/http_go

go 1.19
