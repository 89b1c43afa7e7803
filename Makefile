# hsafe - the words you type. (More targets follow.)
.PHONY: test
test:
	bash tests/run.sh
