#!/usr/bin/env node
// The `neetodeploy` binary. npm links binaries before the root postinstall builds, so the
// package's "bin" names this committed file, which exists at link time, and not the build output.
// It runs the bundle (scripts/bundle-cli.ts): one chunk per command starts faster than the
// ~150 module files of cli/dist.
import '../bundle/main.js';
