#include <stdio.h>
#include <string.h>

#include "commands.h"
#include "config.h"

int cmd_backfill(int argc, char **argv) {
  if (argc > 1 && strcmp(argv[1], "--help") == 0) {
    printf("usage: crypto-bet-indexer backfill [options]\n\nnot yet available in this build.\n");
    return EXIT_OK;
  }
  fprintf(stderr, "crypto-bet-indexer backfill: not yet available in this build\n");
  return EXIT_UNAVAILABLE;
}

int cmd_snapshot(int argc, char **argv) {
  if (argc > 1 && strcmp(argv[1], "--help") == 0) {
    printf("usage: crypto-bet-indexer snapshot [options]\n\nnot yet available in this build.\n");
    return EXIT_OK;
  }
  fprintf(stderr, "crypto-bet-indexer snapshot: not yet available in this build\n");
  return EXIT_UNAVAILABLE;
}
