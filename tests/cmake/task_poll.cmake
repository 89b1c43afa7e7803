# Scoped tasks: on Linux the loop waits for fds with epoll; other POSIX
# systems use poll(). HSAFE_TEST_TASK_POLL ([impl], tests only) forces the
# poll() backend, so test_task_cancel (pipes, deadlines, the idle loop) runs
# it here too, as C and as C++, with the default context backend.
if(CMAKE_SYSTEM_NAME STREQUAL "Linux")
  hsafe_add_test(task_cancel.poll "${CMAKE_CURRENT_SOURCE_DIR}/test_task_cancel.c" default
                 DEFINES HSAFE_TEST_TASK_POLL LABELS unit poll)
  hsafe_add_test(task_cancel.poll.cxx "${CMAKE_CURRENT_SOURCE_DIR}/test_task_cancel.c" default
                 LANG CXX DEFINES HSAFE_TEST_TASK_POLL LABELS cxx poll)
endif()
