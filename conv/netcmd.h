/* axconv-test network commands (internal to the tool). */
#ifndef AXMUL_NETCMD_H
#define AXMUL_NETCMD_H

int axmul__cmd_train(int argc, char **argv);
int axmul__cmd_calibrate(int argc, char **argv);
int axmul__cmd_net(int argc, char **argv);

#endif
