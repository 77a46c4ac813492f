// cmpclient does what Argo CD's repo-server does with a Config Management
// Plugin sidecar, with Argo CD's own client code: it sends the application
// directory over the plugin's unix socket (util/cmp.SendRepoStream, the
// repository as a tarball), asks whether the plugin matches it
// (MatchRepository: the plugin's discover), then has it generate the
// manifests (GenerateManifest) and prints them as a YAML stream.
//
//	cmpclient -socket plugins/sidecarize.sock -repo REPO -app REPO/apps/shop
//
// Exit 3: the plugin does not match the application.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"time"

	cmpapi "github.com/argoproj/argo-cd/v2/cmpserver/apiclient"
	"github.com/argoproj/argo-cd/v2/util/cmp"
)

func main() {
	socket := flag.String("socket", "", "the plugin's unix socket")
	repo := flag.String("repo", "", "the repository root")
	app := flag.String("app", "", "the application's directory (in the repository)")
	flag.Parse()
	if err := run(*socket, *repo, *app); err != nil {
		fmt.Fprintln(os.Stderr, "cmpclient:", err)
		if err == errNoMatch {
			os.Exit(3)
		}
		os.Exit(1)
	}
}

var errNoMatch = fmt.Errorf("the plugin does not match the application (discover)")

func run(socket, repo, app string) error {
	conn, err := cmpapi.NewConnection(socket)
	if err != nil {
		return err
	}
	defer conn.Close()
	client := cmpapi.NewConfigManagementPluginServiceClient(conn)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	env := []string{"ARGOCD_APP_NAME=shop", "ARGOCD_APP_NAMESPACE=argocd"}

	ms, err := client.MatchRepository(ctx)
	if err != nil {
		return fmt.Errorf("MatchRepository: %w", err)
	}
	if err := cmp.SendRepoStream(ms.Context(), app, repo, ms, env, nil); err != nil {
		return fmt.Errorf("MatchRepository: sending the repository: %w", err)
	}
	match, err := ms.CloseAndRecv()
	if err != nil {
		return fmt.Errorf("MatchRepository: %w", err)
	}
	if !match.GetIsSupported() {
		return errNoMatch
	}

	gs, err := client.GenerateManifest(ctx)
	if err != nil {
		return fmt.Errorf("GenerateManifest: %w", err)
	}
	if err := cmp.SendRepoStream(gs.Context(), app, repo, gs, env, nil); err != nil {
		return fmt.Errorf("GenerateManifest: sending the repository: %w", err)
	}
	resp, err := gs.CloseAndRecv()
	if err != nil {
		return fmt.Errorf("GenerateManifest: %w", err)
	}
	for _, m := range resp.GetManifests() {
		fmt.Printf("---\n%s\n", m)
	}
	return nil
}
