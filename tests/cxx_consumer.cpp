// A C++17 program that uses uco only as an installed library: found with
// pkg-config, <uco/uco.h> included from the install prefix, linked against
// the installed libuco.  tests/install.sh builds and runs it.  It spawns a
// task that sleeps and returns a value, joins it, and checks both.
#include <uco/uco.h>

#include <cerrno>
#include <cstdint>
#include <cstdio>
#include <vector>

namespace {

struct job {
	std::uint64_t sleep_ns;
	std::uint64_t slept_ns = 0;
	int sleep_result = -1;
};

void *child(void *arg)
{
	auto *j = static_cast<job *>(arg);
	std::uint64_t t0 = uco_now();

	j->sleep_result = uco_sleep(j->sleep_ns);
	j->slept_ns = uco_now() - t0;
	return reinterpret_cast<void *>(std::uintptr_t{42});
}

void *main_task(void *)
{
	std::vector<job> jobs(3, job{UCO_NSEC_PER_MSEC});
	std::vector<uco_task *> tasks;

	for (auto &j : jobs) {
		uco_task *t = nullptr;
		int r = uco_spawn(&t, child, &j, nullptr);

		if (r < 0)
			return uco_fail(r);
		tasks.push_back(t);
	}
	for (std::size_t i = 0; i < tasks.size(); i++) {
		void *res = nullptr;
		int r = uco_join(tasks[i], &res);

		uco_task_release(tasks[i]);
		if (r < 0)
			return uco_fail(r);
		if (reinterpret_cast<std::uintptr_t>(res) != 42) {
			std::fprintf(stderr, "cxx_consumer: task %zu returned "
				     "%p, not 42\n", i, res);
			return uco_fail(-EPROTO);
		}
		if (jobs[i].sleep_result != 0 ||
		    jobs[i].slept_ns < jobs[i].sleep_ns) {
			std::fprintf(stderr, "cxx_consumer: task %zu: "
				     "uco_sleep returned %d after %llu ns\n", i,
				     jobs[i].sleep_result,
				     static_cast<unsigned long long>(
					     jobs[i].slept_ns));
			return uco_fail(-EPROTO);
		}
	}
	return reinterpret_cast<void *>(std::uintptr_t{tasks.size()});
}

} // namespace

int main()
{
	uco_config cfg;
	void *result = nullptr;

	uco_config_init(&cfg);
	int r = uco_run(main_task, nullptr, &cfg, &result);
	if (r != 0) {
		std::fprintf(stderr, "cxx_consumer: uco_run: %d\n", r);
		return 1;
	}
	if (reinterpret_cast<std::uintptr_t>(result) != 3) {
		std::fprintf(stderr, "cxx_consumer: main returned %p\n", result);
		return 1;
	}
	std::printf("cxx_consumer: 3 tasks spawned, slept and joined\n");
	return 0;
}
