package e2e

import (
	"encoding/json"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hoistdeploy/hoist/test/fleet"
)

// tasksYML is a plain-HTTP stage of examples/tasks: two web hosts and a
// worker host, PostgreSQL and Redis on the fleet's database host.
func tasksYML(domain, dbURL, brokerURL, worker string) string {
	return fmt.Sprintf(`app: %%APP%%
settings: tasks_site.settings
system_site_packages: true
secrets: [TASKS_SECRET_KEY]
env:
  TASKS_ALLOWED_HOSTS: "%s,localhost"
  TASKS_DATABASE_URL: "%s"
  TASKS_BROKER_URL: "%s"
  TASKS_SECURE_SSL_REDIRECT: "off"
  TASKS_SESSION_COOKIE_SECURE: "off"
  TASKS_CSRF_COOKIE_SECURE: "off"
  TASKS_SECURE_HSTS_SECONDS: "0"
build:
  - python manage.py compress
processes:
  worker:
    command: %s
    stop_timeout: 60s
  sweeper: python manage.py requeue_stale
health:
  paths: [/health/, /]
web:
  domains: [%s]
stages:
  prod:
    hosts:
      - web1
      - web2
      - {host: web3, roles: [worker]}
`, domain, dbURL, brokerURL, worker, domain)
}

const goodWorker = "python -m celery -A tasks_site worker -l info --concurrency 2"

type jobsState struct {
	Total    int               `json:"total"`
	Done     int               `json:"done"`
	Pending  []string          `json:"pending"`
	Versions map[string]string `json:"versions"`
}

func readJobs(t *testing.T, h *fleet.Host, domain string) jobsState {
	t.Helper()
	code, body := get(t, h, domain, "/jobs/")
	var s jobsState
	if code != 200 || json.Unmarshal([]byte(body), &s) != nil {
		t.Fatalf("GET /jobs/ = %d: %.300s", code, body)
	}
	return s
}

// waitAllDone waits until every job enqueued so far has run.
func waitAllDone(t *testing.T, h *fleet.Host, domain string) jobsState {
	t.Helper()
	deadline := time.Now().Add(90 * time.Second)
	for {
		s := readJobs(t, h, domain)
		if s.Done == s.Total {
			return s
		}
		if time.Now().After(deadline) {
			t.Fatalf("jobs never ran: %d of %d done; pending %v", s.Done, s.Total, s.Pending)
		}
		time.Sleep(500 * time.Millisecond)
	}
}

func enqueue(t *testing.T, h *fleet.Host, domain, token string) {
	t.Helper()
	if code, body := get(t, h, domain, "/enqueue/?token="+token); code != 200 || !strings.Contains(body, "queued "+token) {
		t.Fatalf("enqueue %s: %d %s", token, code, body)
	}
}

// A Django app with a Celery worker and offline compression: every page
// answers after setup and deploy; tasks enqueued before, during and after
// a deploy all run, none lost; after the cut-over the worker runs the new
// code, after a rollback the old; a failing build command, a failing
// release command and a worker that dies at start each stop a deploy with
// the old release and its worker serving.
func TestWorkersCompressorAndReleaseCommands(t *testing.T) {
	t.Parallel()
	skipShort(t)
	const domain = "tasks.test"
	web, worker := shared.Hosts[:2], shared.Hosts[2]
	db := createDB(t, "tasks")
	broker := "redis://" + shared.DBHost + ":6379/3"
	a := newApp(t, shared, "tasks", "tasks", tasksYML(domain, db, broker, goodWorker))
	a.env = append(a.env, "TASKS_SECRET_KEY="+testSecret)
	a.mustHoist("setup", "prod")
	out := a.mustHoist("deploy", "prod")
	if !strings.Contains(out, "python manage.py compress") {
		t.Errorf("the build command is not in the output")
	}
	for _, h := range web {
		for _, path := range []string{"/", "/health/", "/jobs/"} {
			if code, body := get(t, h, domain, path); code != 200 {
				t.Fatalf("%s: GET %s = %d\n%.400s", h.Name, path, code, body)
			}
		}
	}
	expectServing(t, web, domain, "version: v1")
	if state := sh(t, worker, "systemctl is-active 'hoist-tasks.worker@*' 'hoist-tasks.sweeper@*' | sort -u"); state != "active" {
		t.Fatalf("worker host: %q", state)
	}

	for i := range 5 {
		enqueue(t, web[i%2], domain, fmt.Sprintf("before-%d", i))
	}
	s := waitAllDone(t, web[0], domain)
	if s.Versions["before-0"] != "v1" {
		t.Errorf("before-0 ran on %q", s.Versions["before-0"])
	}

	// v2, deployed while jobs keep coming.
	a.write("VERSION", "v2\n")
	a.commit("v2")
	stop := make(chan struct{})
	var wg sync.WaitGroup
	var during []string
	wg.Add(1)
	go func() {
		defer wg.Done()
		for i := 0; ; i++ {
			select {
			case <-stop:
				return
			case <-time.After(150 * time.Millisecond):
			}
			token := fmt.Sprintf("during-%d", i)
			// Not enqueue: t.Fatal must not run outside the test's goroutine.
			if code, body := get(t, web[i%2], domain, "/enqueue/?token="+token); code != 200 {
				t.Errorf("enqueue %s during the deploy: %d %s", token, code, body)
				continue
			}
			during = append(during, token)
		}
	}()
	a.mustHoist("deploy", "prod")
	close(stop)
	wg.Wait()
	for i := range 5 {
		enqueue(t, web[i%2], domain, fmt.Sprintf("after-%d", i))
	}
	s = waitAllDone(t, web[0], domain)
	if s.Total != 10+len(during) {
		t.Errorf("%d jobs recorded, want %d", s.Total, 10+len(during))
	}
	for i := range 5 {
		if v := s.Versions[fmt.Sprintf("after-%d", i)]; v != "v2" {
			t.Errorf("after-%d ran on %q, want v2: the old worker still takes jobs", i, v)
		}
	}
	t.Logf("%d jobs enqueued during the deploy, all run", len(during))
	expectServing(t, web, domain, "version: v2")

	// A rollback brings the old worker back.
	a.mustHoist("rollback", "prod")
	expectServing(t, web, domain, "version: v1")
	enqueue(t, web[0], domain, "rolled-back")
	if v := waitAllDone(t, web[0], domain).Versions["rolled-back"]; v != "v1" {
		t.Errorf("after the rollback a job ran on %q, want v1", v)
	}
	a.mustHoist("deploy", "prod") // v2 again
	expectServing(t, web, domain, "version: v2")

	// Each failure leaves v2 and its worker serving everywhere.
	live := sh(t, web[0], "basename $(readlink /srv/tasks/current)")
	workerServes := func(what string) {
		t.Helper()
		expectServing(t, web, domain, "version: v2")
		if state := sh(t, worker, "systemctl is-active hoist-tasks.worker@"+live+".service"); state != "active" {
			t.Errorf("%s: the live worker is %s", what, state)
		}
		enqueue(t, web[1], domain, "after-"+strings.ReplaceAll(what, " ", "-"))
		if v := waitAllDone(t, web[0], domain).Versions["after-"+strings.ReplaceAll(what, " ", "-")]; v != "v2" {
			t.Errorf("%s: a job ran on %q, want v2", what, v)
		}
	}
	cases := []struct{ name, yml, want string }{
		{"build command", strings.Replace(tasksYML(domain, db, broker, goodWorker), "  - python manage.py compress\n", "  - python manage.py compress\n  - python manage.py no_such_command\n", 1), "no_such_command"},
		{"release command", tasksYML(domain, db, broker, goodWorker) + "release:\n  - python manage.py no_such_command\n", "no_such_command"},
		{"worker crash", tasksYML(domain, db, broker, "python -m celery -A no_such_module worker"), "did not stay up"},
	}
	for _, c := range cases {
		a.write("hoist.yml", strings.ReplaceAll(c.yml, "%APP%", "tasks"))
		a.write("VERSION", "v3\n")
		a.commit(c.name)
		out, code := a.hoist("deploy", "prod")
		if code != 1 || !strings.Contains(out, c.want) {
			t.Errorf("%s: exit %d, want 1 with %q in the output", c.name, code, c.want)
		}
		workerServes(c.name)
	}
}
