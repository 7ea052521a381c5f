.PHONY: demo test curves bench
demo:  ## set up .venv and run the main job on the bundled curves
	bash scripts/bootstrap.sh && .venv/bin/bayes-scaling demo
test:  ## the test suite (same as .ci/run)
	bash scripts/test.sh
