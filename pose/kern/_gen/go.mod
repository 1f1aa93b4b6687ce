module github.com/bsampose/bsampose/pose/kern/_gen

go 1.26.8
