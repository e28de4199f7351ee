package daemon

import (
	"context"
	"fmt"
	"strings"

	"github.com/vigil-ha/vigil/internal/fence"
	"github.com/vigil-ha/vigil/internal/model"
)

// fence powers node off with its fencing levels from the configuration,
// tried in order, and says which level did it ("level 1 (ipmi-n1)").
// Device secrets never reach the error or the logs (package fence).
func (n *node) fence(ctx context.Context, node model.NodeID) (string, error) {
	levels := n.cfg.Cluster.Fencing.FenceLevels(node)
	if len(levels) == 0 {
		return "", fmt.Errorf("no fencing device covers %s", node)
	}
	lv := make([]fence.Level, len(levels))
	for i, devs := range levels {
		for _, d := range devs {
			lv[i] = append(lv[i], fence.Device{ID: d.ID, Agent: d.Agent, Params: d.Params, Plugs: d.Plugs, Timeout: d.Timeout})
		}
	}
	n.journal.note(model.EventFencing, node, "fencing %s (%d levels)", node, len(lv))
	i, err := fence.Runner{Log: n.log.With("component", "fence")}.Fence(ctx, node, lv, fence.Off)
	if err != nil {
		n.journal.note(model.EventFenceFailed, node, "fencing %s FAILED: %v", node, err)
		return "", err
	}
	ids := make([]string, len(levels[i]))
	for j, d := range levels[i] {
		ids[j] = d.ID
	}
	return fmt.Sprintf("level %d (%s)", i+1, strings.Join(ids, "+")), nil
}
