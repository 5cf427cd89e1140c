#include <stdio.h>
#include <string.h>

#include "commands.h"
#include "config.h"

int cmd_decode(int argc, char **argv) {
  if (argc > 1 && strcmp(argv[1], "--help") == 0) {
    printf("usage: crypto-bet-indexer decode [options]\n\nnot yet available in this build.\n");
    return EXIT_OK;
  }
  fprintf(stderr, "crypto-bet-indexer decode: not yet available in this build\n");
  return EXIT_UNAVAILABLE;
}
