/* SPDX-License-Identifier: MIT */
#include "tests/harness.h"

#include <signal.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#define TEST_TIMEOUT_SEC 20

static struct test_case *tests_head, **tests_tail = &tests_head;

void test_register(struct test_case *tc)
{
	*tests_tail = tc;
	tests_tail = &tc->next;
}

static int run_one(const struct test_case *tc)
{
	int status;
	pid_t pid;

	fflush(NULL);
	pid = fork();
	if (pid < 0)
		return -1;
	if (pid == 0) {
		alarm(TEST_TIMEOUT_SEC);
		tc->fn();
		exit(0);
	}
	if (waitpid(pid, &status, 0) < 0)
		return -1;
	if (WIFEXITED(status) && WEXITSTATUS(status) == 0)
		return 0;
	if (WIFSIGNALED(status))
		fprintf(stderr, "  killed by signal %d%s\n", WTERMSIG(status),
			WTERMSIG(status) == SIGALRM ? " (timeout)" : "");
	return -1;
}

/* Usage: unit-tests [substring...]: run the cases whose name contains any substring. */
int main(int argc, char **argv)
{
	unsigned int passed = 0, failed = 0;

	signal(SIGPIPE, SIG_IGN);
	for (struct test_case *tc = tests_head; tc; tc = tc->next) {
		bool selected = argc < 2;

		for (int i = 1; i < argc && !selected; i++)
			selected = strstr(tc->name, argv[i]) != NULL;
		if (!selected)
			continue;
		if (run_one(tc) == 0) {
			passed++;
			printf("ok   %s\n", tc->name);
		} else {
			failed++;
			printf("FAIL %s (%s)\n", tc->name, tc->file);
		}
	}
	printf("%u passed, %u failed\n", passed, failed);
	return failed ? 1 : 0;
}
