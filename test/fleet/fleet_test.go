package fleet

import (
	"context"
	"io"
	"net/http"
	"os/exec"
	"strings"
	"testing"
	"time"
)

// ssh runs the real OpenSSH client with the fleet's config, as hoist's users
// would; StrictHostKeyChecking=yes in that config proves known_hosts is right.
func sshCmd(f *Fleet, args ...string) *exec.Cmd {
	cmd := exec.Command("ssh", append([]string{"-F", f.SSHConfig(), "-o", "BatchMode=yes", "-o", "ConnectTimeout=3"}, args...)...)
	cmd.Env = f.Env()
	return cmd
}

func TestFleet(t *testing.T) {
	if testing.Short() {
		t.Skip("starts containers")
	}
	if _, err := exec.LookPath("docker"); err != nil {
		t.Skip("no docker client")
	}
	f := Start(t, Options{Hosts: 2, DB: true})
	ctx := context.Background()
	web1 := f.Hosts[0]

	t.Run("ssh", func(t *testing.T) {
		for _, h := range f.all() {
			if out, err := sshCmd(f, h.Name, "true").CombinedOutput(); err != nil {
				t.Errorf("ssh %s true: %v\n%s", h.Name, err, out)
			}
		}
	})

	t.Run("sudo", func(t *testing.T) {
		if out, err := sshCmd(f, "web1", "sudo -n true").CombinedOutput(); err != nil {
			t.Errorf("deploy: sudo -n true: %v\n%s", err, out)
		}
		// nosudo logs in with the same key but must not have sudo.
		if out, err := sshCmd(f, "nosudo@web1", "sudo -n true").CombinedOutput(); err == nil {
			t.Errorf("nosudo: sudo -n true worked:\n%s", out)
		}
	})

	t.Run("nginx", func(t *testing.T) {
		for _, h := range f.Hosts {
			resp, err := http.Get(h.URL("/"))
			if err != nil {
				t.Fatal(err)
			}
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != 200 || !strings.Contains(string(body), "nginx") {
				t.Errorf("%s: %s: %d %.200s", h.Name, h.URL("/"), resp.StatusCode, body)
			}
		}
	})

	t.Run("database", func(t *testing.T) {
		if f.DatabaseURL() != "postgres://app:app-db-password@"+f.DB.IP+":5432/app" {
			t.Errorf("DatabaseURL = %q", f.DatabaseURL())
		}
		// From web1, as the app would: over the bridge, with the password.
		out, err := web1.Exec(ctx, "python3", "-c",
			"import sys, psycopg2; c = psycopg2.connect(sys.argv[1]); cur = c.cursor(); cur.execute('select current_user, current_database()'); print(*cur.fetchone())",
			f.DatabaseURL())
		if err != nil || strings.TrimSpace(out) != "app app" {
			t.Errorf("connect to db from web1: %v\n%s", err, out)
		}
	})

	t.Run("pause", func(t *testing.T) {
		if err := web1.Pause(ctx); err != nil {
			t.Fatal(err)
		}
		start := time.Now()
		out, err := sshCmd(f, "web1", "true").CombinedOutput()
		took := time.Since(start)
		if err := web1.Unpause(ctx); err != nil {
			t.Fatal(err)
		}
		if err == nil || took > 15*time.Second || !strings.Contains(string(out), "timed out") {
			t.Errorf("ssh to paused host: err=%v after %s:\n%s", err, took, out)
		}
		if out, err := sshCmd(f, "web1", "true").CombinedOutput(); err != nil {
			t.Errorf("ssh after unpause: %v\n%s", err, out)
		}
	})

	// web2: restarting keeps it reachable under the fleet's (rewritten) ssh
	// files; a new host key must then be refused.
	web2 := f.Hosts[1]
	t.Run("restart", func(t *testing.T) {
		if err := web2.Stop(ctx); err != nil {
			t.Fatal(err)
		}
		if err := web2.Start(ctx); err != nil {
			t.Fatal(err)
		}
		if out, err := sshCmd(f, "web2", "true").CombinedOutput(); err != nil {
			t.Errorf("ssh after restart: %v\n%s", err, out)
		}
	})

	t.Run("host key changed", func(t *testing.T) {
		if err := web2.RegenerateHostKey(ctx); err != nil {
			t.Fatal(err)
		}
		out, err := sshCmd(f, "web2", "true").CombinedOutput()
		if err == nil || !strings.Contains(string(out), "HOST IDENTIFICATION HAS CHANGED") {
			t.Errorf("ssh after new host key: err=%v\n%s", err, out)
		}
	})
}
