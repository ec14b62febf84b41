#!/usr/bin/env node
// The `neetodeploy-keys` binary. npm links binaries before the root postinstall builds dist/, so the
// package's "bin" names this committed file, which exists at link time, and not the build output.
import '../dist/main.js';
