#include <stdio.h>
#include <string.h>

#include "commands.h"
#include "config.h"

int cmd_live(int argc, char **argv) {
  if (argc > 1 && strcmp(argv[1], "--help") == 0) {
    printf("usage: crypto-bet-indexer live [options]\n\nnot yet available in this build.\n");
    return EXIT_OK;
  }
  fprintf(stderr, "crypto-bet-indexer live: not yet available in this build\n");
  return EXIT_UNAVAILABLE;
}

int cmd_reconcile(int argc, char **argv) {
  if (argc > 1 && strcmp(argv[1], "--help") == 0) {
    printf("usage: crypto-bet-indexer reconcile [options]\n\nnot yet available in this build.\n");
    return EXIT_OK;
  }
  fprintf(stderr, "crypto-bet-indexer reconcile: not yet available in this build\n");
  return EXIT_UNAVAILABLE;
}
