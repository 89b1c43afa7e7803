# Scoped tasks: the task-tree dump is callable from a debugger. With the
# sanitizer/gdb phase (HSAFE_TEST_SANITIZE) and gdb present, tests/gdb/
# task_dump.c is stopped inside its root task and gdb runs
# `call hsafe_loop_dump(0)`; the tree (scope, tasks, what they wait on)
# must appear. Labels: sanitize, gdb. (Included after sanitize.cmake, which
# finds HSAFE_GDB.)
if(HSAFE_TEST_SANITIZE AND NOT CMAKE_CROSSCOMPILING)
  hsafe_add_test(task_dump "${CMAKE_CURRENT_SOURCE_DIR}/gdb/task_dump.c" default
                 COMPILE_OPTIONS -g LABELS sanitize gdb)
  add_dependencies(hsafe-sanitize test_task_dump)   # the sanitizer phase builds only that target
  if(HSAFE_GDB)
    add_test(NAME task_dump.gdb
             COMMAND "${HSAFE_GDB}" -nx -batch -ex "break stop_here" -ex run
                     -ex "call hsafe_loop_dump(0)" -ex kill $<TARGET_FILE:test_task_dump>)
    set_tests_properties(task_dump.gdb PROPERTIES TIMEOUT 120 LABELS "sanitize;gdb"
      PASS_REGULAR_EXPRESSION "task 'main' \\[running\\][^\n]*\n *scope 'workers' \\[open, 2 live[^\n]*\n *task 'kid0' \\[waiting: sleep until [-+][^\n]*\n *task 'kid1' \\[waiting: sleep until [-+]")
  endif()
endif()
