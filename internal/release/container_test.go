package release

import (
	"strings"
	"testing"
)

// docker's --env-file takes each value as it is to the end of its line:
// quotes, $ and \ stay, and a value that cannot be one line is refused.
func TestDockerEnvFile(t *testing.T) {
	got, err := DockerEnvFile(map[string]string{"B": `a "quoted" $HOME \n value`, "A": "x=y", "C": ""})
	if err != nil {
		t.Fatal(err)
	}
	want := "A=x=y\nB=a \"quoted\" $HOME \\n value\nC=\n"
	if body := string(got[strings.Index(string(got), "\n")+1:]); body != want {
		t.Errorf("env file =\n%s\nwant\n%s", body, want)
	}
	for _, bad := range []string{"a\nb", "a\rb", "a\x00b", "\xff"} {
		if _, err := DockerEnvFile(map[string]string{"K": bad}); err == nil || !strings.Contains(err.Error(), "K") {
			t.Errorf("value %q: err = %v, want a refusal naming K", bad, err)
		}
	}
}

func TestMountPath(t *testing.T) {
	for _, ok := range []string{"/app/static", "/srv/x_y-z.1"} {
		if err := MountPath(ok); err != nil {
			t.Errorf("%s: %v", ok, err)
		}
	}
	for _, bad := range []string{"", "/", "static", "/app/../etc", "/app/", "/a:b", "/a,b", "/a b", "/a\nb"} {
		if MountPath(bad) == nil {
			t.Errorf("%q: accepted", bad)
		}
	}
}
