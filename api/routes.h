/* SPDX-License-Identifier: MIT */
#ifndef API_ROUTES_H
#define API_ROUTES_H

/*
 * The REST API's routes (Firecracker's paths and semantics where both have the resource):
 * each handler turns its request into a control command (vmm/control.h) and waits for the
 * control thread's reply. api/openapi.yaml describes the same table; a unit test keeps the
 * two equal.
 */

struct api_router;
struct control;

/* Register every route on r. ctl may be NULL for a router that is only inspected (tests):
 * its handlers must then not be called. 0 or -errno (router full, bad pattern). */
int api_routes_register(struct api_router *r, struct control *ctl);

#endif /* API_ROUTES_H */
