package deploy

import "testing"

// MEDIA_ROOT is a path inside the image; the web server serves it from the
// shared dir mounted there, if one is.
func TestMediaOnHost(t *testing.T) {
	for _, c := range []struct {
		media, want string
		ok          bool
	}{
		{"/app/media", "/srv/a/shared/media", true},
		{"/app/media/uploads", "/srv/a/shared/media/uploads", true},
		{"/app/data/media", "/srv/a/shared/data/media", true},
		{"/app/mediafiles", "", false},
		{"/var/media", "", false},
	} {
		got, ok := mediaOnHost(c.media, "/app", "/srv/a/shared", []string{"media", "data"})
		if got != c.want || ok != c.ok {
			t.Errorf("mediaOnHost(%s) = %q, %v; want %q, %v", c.media, got, ok, c.want, c.ok)
		}
	}
}
