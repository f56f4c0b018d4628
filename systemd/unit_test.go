package systemd

import (
	"bufio"
	"os"
	"os/exec"
	"strings"
	"testing"
)

// The shipped unit keeps the GPUs visible (no PrivateDevices; the NVIDIA
// character devices allowed), runs in the state folder, keeps the state
// 0750, and bounds memory and tasks; systemd-analyze verify accepts it
// where it is installed.
func TestUnitSettings(t *testing.T) {
	f, err := os.Open("tweedie.service")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	set := map[string][]string{}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		l := strings.TrimSpace(sc.Text())
		if k, v, ok := strings.Cut(l, "="); ok && !strings.HasPrefix(l, "#") {
			set[k] = append(set[k], v)
		}
	}
	if v, ok := set["PrivateDevices"]; ok && v[len(v)-1] != "false" {
		t.Error("PrivateDevices hides the GPUs")
	}
	want := map[string]string{"WorkingDirectory": "/var/lib/tweedie", "StateDirectoryMode": "0750", "DevicePolicy": "closed"}
	for k, v := range want {
		if got := set[k]; len(got) == 0 || got[len(got)-1] != v {
			t.Errorf("%s = %v, want %s", k, got, v)
		}
	}
	for _, k := range []string{"MemoryMax", "TasksMax"} {
		if len(set[k]) == 0 {
			t.Errorf("%s missing", k)
		}
	}
	if !strings.Contains(strings.Join(set["DeviceAllow"], " "), "char-nvidia-uvm") {
		t.Error("the NVIDIA devices are not allowed")
	}
	if _, err := exec.LookPath("systemd-analyze"); err == nil {
		out, _ := exec.Command("systemd-analyze", "verify", "--man=no", "./tweedie.service").CombinedOutput()
		for _, l := range strings.Split(string(out), "\n") {
			if strings.Contains(l, "tweedie.service:") && (strings.Contains(l, "Unknown key") || strings.Contains(l, "Failed to parse")) {
				t.Errorf("systemd-analyze: %s", l)
			}
		}
	}
}
