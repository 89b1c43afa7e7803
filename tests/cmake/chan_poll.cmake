# Channels with the poll() loop backend: HSAFE_TEST_TASK_POLL ([impl],
# tests only; see task_poll.cmake) makes the loop wait with poll() and the
# remote wake a pipe (tasks/remote.h), as on POSIX systems other than
# Linux, so the posts and cross-thread wakeups of test_chan_basic and
# test_chan_threads run through that path too. Labels "unit;poll".
hsafe_add_test(chan_basic.poll "${CMAKE_CURRENT_SOURCE_DIR}/test_chan_basic.c" default
               DEFINES HSAFE_TEST_TASK_POLL LABELS unit poll)
hsafe_add_test(chan_threads.poll "${CMAKE_CURRENT_SOURCE_DIR}/test_chan_threads.c" default
               DEFINES HSAFE_TEST_TASK_POLL LABELS unit poll)
