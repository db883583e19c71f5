"""The flows of Microsoft's Azure Batch Python samples (hello world, job
preparation and release, job scheduler), written against the azure-batch
SDK as the samples use it, run against openbatch by test/e2e.

Usage: sample_flows.py FLOW  (hello | preprelease | schedule-create |
schedule-check | lowpri). Reads OPENBATCH_ENDPOINT, OPENBATCH_ACCOUNT,
OPENBATCH_KEY and, for preprelease, MARKER_DIR. Prints one JSON object.
"""

import datetime
import json
import os
import sys
import time

from azure.batch import BatchServiceClient
from azure.batch.batch_auth import SharedKeyCredentials
import azure.batch.models as m


def client():
    creds = SharedKeyCredentials(os.environ["OPENBATCH_ACCOUNT"], os.environ["OPENBATCH_KEY"])
    c = BatchServiceClient(creds, batch_url=os.environ["OPENBATCH_ENDPOINT"])
    c.config.retry_policy.retries = 5
    return c


def shell(cmd):
    # What the samples' helpers.wrap_commands_in_shell('linux', ...) makes.
    return "/bin/bash -c 'set -e; set -o pipefail; {}; wait'".format(cmd)


def auto_pool(prefix, lifetime):
    vm = m.VirtualMachineConfiguration(
        image_reference=m.ImageReference(publisher="canonical", offer="0001-com-ubuntu-server-focal", sku="20_04-lts"),
        node_agent_sku_id="batch.node.ubuntu 20.04")
    return m.PoolInformation(auto_pool_specification=m.AutoPoolSpecification(
        auto_pool_id_prefix=prefix,
        pool=m.PoolSpecification(vm_size="standard_d2s_v3", target_dedicated_nodes=1, virtual_machine_configuration=vm),
        keep_alive=False, pool_lifetime_option=lifetime))


def wait_for_tasks(c, job_id, timeout):
    deadline = time.time() + timeout.total_seconds()
    while time.time() < deadline:
        tasks = list(c.task.list(job_id))
        if tasks and all(t.state == m.TaskState.completed for t in tasks):
            return tasks
        time.sleep(0.2)
    raise RuntimeError("tasks of {} did not complete".format(job_id))


def task_output(c, job_id, task_id):
    stream = c.file.get_from_task(job_id, task_id, "stdout.txt")
    return b"".join(stream).decode()


def hello():
    c = client()
    job_id = "HelloWorld-job"
    c.job.add(m.JobAddParameter(id=job_id, pool_info=auto_pool("HelloWorld", m.PoolLifetimeOption.job)))
    c.task.add(job_id=job_id, task=m.TaskAddParameter(
        id="HelloWorld", command_line=shell("echo Hello world from the Batch Hello world sample!")))
    wait_for_tasks(c, job_id, datetime.timedelta(minutes=1))
    pool_id = c.job.get(job_id).execution_info.pool_id
    out = task_output(c, job_id, "HelloWorld")
    c.job.delete(job_id)
    return {"stdout": out, "pool": pool_id}


def preprelease():
    c = client()
    job_id = "JobPrepRelease-job"
    marker = os.path.join(os.environ["MARKER_DIR"], "release")
    job = m.JobAddParameter(id=job_id, pool_info=auto_pool("JobPrepAndRelease", m.PoolLifetimeOption.job))
    job.job_preparation_task = m.JobPreparationTask(command_line=shell("echo job preparation task!"))
    job.job_release_task = m.JobReleaseTask(command_line=shell("echo job release task! | tee " + marker))
    c.job.add(job)
    c.task.add(job_id=job_id, task=m.TaskAddParameter(
        id="JobPrepAndRelease", command_line=shell("echo Hello world from the Batch Job prep and release sample!")))
    wait_for_tasks(c, job_id, datetime.timedelta(minutes=1))
    out = task_output(c, job_id, "JobPrepAndRelease")
    status = list(c.job.list_preparation_and_release_task_status(job_id))
    prep = [s.job_preparation_task_execution_info.state for s in status if s.job_preparation_task_execution_info]
    pool_id = c.job.get(job_id).execution_info.pool_id
    c.job.delete(job_id)
    return {"stdout": out, "prep": [str(p.value if hasattr(p, "value") else p) for p in prep], "pool": pool_id}


def schedule_create():
    c = client()
    spec = m.JobSpecification(
        pool_info=auto_pool("Scheduler", m.PoolLifetimeOption.job_schedule),
        on_all_tasks_complete=m.OnAllTasksComplete.terminate_job,
        job_manager_task=m.JobManagerTask(id="jm", command_line=shell("echo made by the schedule")))
    c.job_schedule.add(m.JobScheduleAddParameter(
        id="sample-schedule",
        schedule=m.Schedule(recurrence_interval=datetime.timedelta(minutes=1)),
        job_specification=spec))
    js = c.job_schedule.get("sample-schedule")
    return {"state": str(js.state.value), "recentJob": js.execution_info.recent_job.id}


def schedule_check():
    c = client()
    ids = sorted(j.id for j in c.job.list_from_job_schedule("sample-schedule"))
    pools = sorted({c.job.get(i).execution_info.pool_id for i in ids})
    c.job_schedule.delete("sample-schedule")
    return {"jobs": ids, "pools": pools}


def lowpri():
    c = client()
    vm = m.VirtualMachineConfiguration(
        image_reference=m.ImageReference(publisher="canonical", offer="0001-com-ubuntu-server-focal", sku="20_04-lts"),
        node_agent_sku_id="batch.node.ubuntu 20.04")
    c.pool.add(m.PoolAddParameter(id="spot-pool", vm_size="standard_d2s_v3", virtual_machine_configuration=vm,
                                  target_dedicated_nodes=0, target_low_priority_nodes=2))
    deadline = time.time() + 60
    while time.time() < deadline:
        p = c.pool.get("spot-pool")
        nodes = list(c.compute_node.list("spot-pool"))
        if p.current_low_priority_nodes == 2 and len(nodes) == 2:
            break
        time.sleep(0.2)
    counts = [pc for pc in c.account.list_pool_node_counts() if pc.pool_id == "spot-pool"]
    c.pool.delete("spot-pool")
    return {"currentDedicated": p.current_dedicated_nodes, "currentLowPriority": p.current_low_priority_nodes,
            "isDedicated": [n.is_dedicated for n in nodes],
            "countsLowPriority": counts[0].low_priority.total if counts else -1,
            "countsDedicated": counts[0].dedicated.total if counts else -1}


FLOWS = {"lowpri": lowpri, "hello": hello, "preprelease": preprelease, "schedule-create": schedule_create, "schedule-check": schedule_check}

if __name__ == "__main__":
    print(json.dumps(FLOWS[sys.argv[1]]()))
