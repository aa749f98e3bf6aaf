/* axconv-test: approximate (lookup-table) convolution checked against its exact reference, and
 * whole networks with approximate multipliers. One command per file: conv (cmd_conv.c), bench
 * (cmd_bench.c, bench.c), net (cmd_net.c, net_sweep.c), train (cmd_train.c), calibrate
 * (cmd_calibrate.c), run (cmd_run.c). */
#include "config.h"

#include <stdio.h>
#include <string.h>

#include "axmul.h"
#include "conv/options.h"
#include "lib/tool/tool.h"

#define errorf axmul__tool_error

static void usage_main(FILE *f)
{
    fprintf(f, "Usage: " PROG " COMMAND [OPTIONS]\n"
               "Approximate (lookup-table) convolution checked against its exact reference.\n"
               "\n"
               "Commands:\n"
               "  conv     one convolution: approximate vs exact, error figures, heatmap\n"
               "  bench    speed on standard shapes vs the exact float convolution\n"
               "  net      a whole network on real data, one or many tables\n"
               "  train    train the LeNet-5 (float) on Fashion-MNIST or MNIST\n"
               "  calibrate  store activation ranges in a model\n"
               "  run      one forward pass of a model (ONNX or model folder) on .npy arrays\n"
               "\n"
               "'" PROG " COMMAND --help' describes a command. Exit status: 0 ok, 1 a check\n"
               "failed, 2 usage or I/O error.\n");
}

int main(int argc, char **argv)
{
    axmul__tool_set_name(PROG);
    if (argc < 2) {
        usage_main(stderr);
        return AXMUL__EXIT_USAGE;
    }
    const char *cmd = argv[1];
    if (strcmp(cmd, "-h") == 0 || strcmp(cmd, "--help") == 0) {
        usage_main(stdout);
        return 0;
    }
    if (strcmp(cmd, "-V") == 0 || strcmp(cmd, "--version") == 0) {
        printf(PROG " (axmul) %s\n", axmul_version());
        return 0;
    }
    if (strcmp(cmd, "conv") == 0)
        return axmul__cmd_conv(argc - 1, argv + 1);
    if (strcmp(cmd, "bench") == 0)
        return axmul__cmd_bench(argc - 1, argv + 1);
    if (strcmp(cmd, "net") == 0)
        return axmul__cmd_net(argc - 1, argv + 1);
    if (strcmp(cmd, "train") == 0)
        return axmul__cmd_train(argc - 1, argv + 1);
    if (strcmp(cmd, "run") == 0)
        return axmul__cmd_run(argc - 1, argv + 1);
    if (strcmp(cmd, "calibrate") == 0)
        return axmul__cmd_calibrate(argc - 1, argv + 1);
    errorf("unknown command '%s'", cmd);
    usage_main(stderr);
    return AXMUL__EXIT_USAGE;
}
