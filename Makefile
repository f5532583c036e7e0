# The two commands of README: `make demo` (train on Fashion-MNIST) and `make test` (the suite).
# Both install the Debian packages they need first, when missing.

PACKAGES := libopenblas-dev liblapacke-dev zlib1g-dev ocl-icd-opencl-dev opencl-headers \
            libclblast-dev pocl-opencl-icd oclgrind libopenmpi-dev openmpi-bin dataset-fashion-mnist
FASHION  := /usr/share/datasets/fashion-mnist
OUT      := out
MFA      := .build/release/mfa
SUDO     := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

.PHONY: setup build test oclgrind fuzz demo bench dgmm-experiment time-to-quality scaling clean

setup:
	@missing=$$(for p in $(PACKAGES); do dpkg-query -W -f='$${Status}\n' $$p 2>/dev/null | grep -q '^install ok installed' || echo $$p; done); \
	if [ -n "$$missing" ]; then \
		echo "installing:" $$missing; \
		$(SUDO) apt-get update -qq && DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq $$missing >/dev/null; \
	fi

build: setup
	swift build -c release --product mfa

# The whole suite (the OpenCL tests run on PoCL), then the kernel tests under Oclgrind.
test: setup
	swift test -c release --disable-xctest
	$(MAKE) --no-print-directory oclgrind

# The kernel tests on Oclgrind's simulated device, which reports the data races, out-of-bounds and
# uninitialised accesses, barrier divergence and API misuse that PoCL would run silently.
# Any report fails the target.
oclgrind: setup
	swift build -c release --build-tests
	@mkdir -p $(OUT) && rm -f $(OUT)/oclgrind.log
	oclgrind --data-races --uninitialized --check-api --log $(OUT)/oclgrind.log \
		"$$(swift build -c release --show-bin-path)/swift-mfaPackageTests.xctest" --testing-library swift-testing --filter KernelTests
	@if [ -s $(OUT)/oclgrind.log ]; then cat $(OUT)/oclgrind.log; echo "Oclgrind reported problems (above)"; exit 1; fi
	@echo "Oclgrind: no reports"

# K = 50, l = 10, default options: train on the 60,000 training images, validate on the 10,000
# test images after every epoch, then a sample grid and per-image test scores.
demo: build
	@mkdir -p $(OUT)
	$(MFA) train $(FASHION)/train-images-idx3-ubyte.gz --components 50 --latent 10 \
		--validation $(FASHION)/t10k-images-idx3-ubyte.gz --out $(OUT)/fashion-mnist.safetensors
	$(MFA) score $(OUT)/fashion-mnist.safetensors $(FASHION)/t10k-images-idx3-ubyte.gz --out $(OUT)/test-scores.npy
	$(MFA) sample $(OUT)/fashion-mnist.safetensors --count 64 --out $(OUT)/samples.npy --image $(OUT)/samples.png
	@echo "model: $(OUT)/fashion-mnist.safetensors; samples: $(OUT)/samples.png"

# The DGMM paper's experiment shape: 20 single-start fits on simulated data (README's DGMM table).
dgmm-experiment: build
	scripts/dgmm-experiment.sh 20

# Fashion-MNIST test log-likelihood against wall time for online-em, sgd and em (README's plot
# and table; ~20 minutes; SEEDS="1 2 3" for medians of three seeds).
time-to-quality: build
	scripts/time-to-quality.sh

# Samples/s, parallel efficiency and test LL alone, under `mpirun -np 1` and `-np 2` (README's
# scaling table; ~3 minutes).
scaling: build
	scripts/scaling.sh

# Training-step GFLOP/s against each backend's own GEMM on the same shapes (README's table), as a
# CSV and a plot (out/bench.csv, out/bench.png; the plot needs matplotlib, installed if missing).
bench: build
	@mkdir -p $(OUT)
	$(MFA) bench --backend cpu,opencl --algorithm sgd,online-em --csv $(OUT)/bench.csv
	python3 -c 'import matplotlib' 2>/dev/null || python3 -m pip install --quiet matplotlib
	python3 scripts/plot_bench.py $(OUT)/bench.csv $(OUT)/bench.png

# The readers (npy, IDX, gzip, CSV with its header guess and missing values, safetensors, model
# and checkpoint files) under libFuzzer and AddressSanitizer for FUZZ_SECONDS (default 120),
# starting from and adding to the committed corpus in Fuzz/Corpus. lld ships with the Swift
# toolchain. Works in a clone of any name (Fuzz/Package.swift finds the parent's identity).
FUZZ_SECONDS ?= 120
fuzz: setup
	swift build -c debug --package-path Fuzz --scratch-path .build-fuzz \
		-Xswiftc -sanitize=fuzzer,address -Xswiftc -use-ld=lld
	"$$(swift build -c debug --package-path Fuzz --scratch-path .build-fuzz -Xswiftc -sanitize=fuzzer,address -Xswiftc -use-ld=lld --show-bin-path)/ReaderFuzzer" \
		Fuzz/Corpus -max_total_time=$(FUZZ_SECONDS) -max_len=4096 -rss_limit_mb=2048 -print_final_stats=1

clean:
	rm -rf .build $(OUT)
